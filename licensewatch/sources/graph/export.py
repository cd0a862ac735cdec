"""Kind ``graph-export`` for ``[sources.accounts]``: Microsoft Graph users pages saved as files.

The folder holds the pages of ``GET /v1.0/users?$select=id,userPrincipalName,
mail,employeeId,displayName,department,accountEnabled,userType,createdDateTime,
assignedLicenses,signInActivity`` exactly as Graph returned them (read in
natural order: ``users_2.json`` before ``users_10.json``) and the answer of
``GET /v1.0/subscribedSkus`` as ``subscribedSkus.json`` (and, optionally, the
seats' ``subscriptions.json`` and ``groups.json``: :mod:`.seats`). A pull saved by
``licensewatch pull --save`` also holds ``manifest.json``, the page chain the
replay is checked against (:mod:`licensewatch.sources.graph.chain`).

:func:`parse_subscribed_skus` and :func:`parse_users_pages` are pure and are
what the live Graph source calls on the pages it fetched. Graph's quirks stay
here: no ``signInActivity`` (never signed in, or not since April 2020),
``"0001-01-01T00:00:00Z"`` and ``""`` all mean "never" (NaT), and
``lastSuccessfulSignInDateTime`` exists only since December 2023.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from licensewatch import jsontext, model
from licensewatch.config import SourceSettings
from licensewatch.errors import InputError, Problem
from licensewatch.progress import Progress
from licensewatch.sources.graph import typed_page
from licensewatch.sources.graph.chain import MANIFEST_FILE, check_saved_chain
from licensewatch.sources.graph.seats import saved_seats
from licensewatch.sources.graph.usage_report import apply_usage_activity, parse_usage_report
from licensewatch.sources.graph.user_fields import SIGN_IN_FIELDS, SIGNAL, TEXT_FIELDS, sku_id_of
from licensewatch.sources.interface import AccountsPull, AccountsSource
from licensewatch.sources.options import source_path
from licensewatch.sources.tabular.table import (
    ProblemLog,
    check_options,
    constant,
    natural_key,
    parse_timestamps,
)

SKUS_FILE = "subscribedSkus.json"
#: Saved by a live pull that fell back to the usage report (see sources/graph.py).
USAGE_REPORT_FILE = "usage_report.csv"
#: Graph's "never": "0001-01-01T00:00:00Z" (matched by prefix, whatever the fraction digits).
NEVER_PREFIX = "0001-01-01"
_EXPECTED_PAGE = "expected a users page as Graph returns it: an object with a 'value' array"


class GraphExportSource(AccountsSource):
    """Accounts and licences from a folder of saved Graph users pages and ``subscribedSkus.json``.

    Options: ``path`` (the folder, required), ``users_glob`` (which files are
    users pages, default ``"users*.json"``).
    """

    KEYS: ClassVar[tuple[str, ...]] = ("path", "users_glob")

    def __init__(self, settings: SourceSettings) -> None:
        options = check_options(settings, self.KEYS, {"users_glob": "users*.json"})
        self.settings = settings
        self.folder = settings.path()
        self.users_glob = options["users_glob"]

    def _files(self) -> tuple[list[Path], Path]:
        what = f"the users pages ({self.users_glob}) and {SKUS_FILE} of a Graph export"
        source_path(self.settings, folder=True, expected=f"expected {what}")
        pages = sorted(
            (p for p in self.folder.glob(self.users_glob) if p.is_file()),
            key=lambda p: natural_key(p.name),
        )
        if not pages:
            raise InputError.single(
                str(self.folder), f"no files match {self.users_glob!r}; expected {what}"
            )
        skus = self.folder / SKUS_FILE
        if not skus.is_file():
            raise InputError.single(
                str(skus), "file does not exist; expected the answer of GET /v1.0/subscribedSkus"
            )
        return pages, skus

    def check(self) -> None:
        """Check that the folder holds users pages and ``subscribedSkus.json`` (parses nothing)."""
        self._files()

    def pull(self) -> AccountsPull:
        """Read every page; bad content raises :class:`InputError` naming file, user and field.

        The page chain is checked first (``graph_chain.check_saved_chain``: against
        ``manifest.json`` when the folder has one): a page missing from the chain
        raises ``SourceError``.
        """
        pages, skus_path = self._files()
        skus_doc = load_json(skus_path)
        skus = parse_subscribed_skus(skus_doc, origin=str(skus_path))
        # A pull saved on the usage-report fallback holds pages read without
        # signInActivity plus the report; replay it the same way the live pull read it.
        report = self.folder / USAGE_REPORT_FILE
        docs = _read_pages(pages)
        manifest_path = self.folder / MANIFEST_FILE
        complete, chain_note = check_saved_chain(
            self.folder, docs, load_json(manifest_path) if manifest_path.is_file() else None
        )
        accounts, licenses = _parse_pages(
            ((str(p), doc) for p, doc in docs), skus, require_sign_in=not report.is_file()
        )
        notes = [n for n in (chain_note, unknown_sku_note(licenses)) if n]
        signal = SIGNAL
        if report.is_file():
            usage = parse_usage_report(report.read_bytes(), name=str(report))
            accounts = apply_usage_activity(accounts, usage.last_activity)
            signal = "usage-report"
            notes.append(f"activity from the saved usage report {report.name}")
        seats = saved_seats(self.folder, skus_doc, [doc for _, doc in docs], load_json)
        return AccountsPull(
            accounts,
            licenses,
            signal=signal,
            requests=0,
            notes=(*notes, *seats.notes),
            complete=complete,
            seats=seats.seats,
            subscriptions=seats.subscriptions,
            license_states=seats.license_states,
        )


def _read_pages(pages: list[Path]) -> list[tuple[Path, Any]]:
    """Every saved users page, parsed, with progress (a large tenant has thousands)."""
    docs = []
    with Progress("Graph export", total=len(pages), unit="pages", quiet=True) as progress:
        for path in pages:
            docs.append((path, load_json(path)))
            progress.advance()
    return docs


def load_json(path: Path) -> Any:
    """Parse the JSON file at ``path``; a syntax error raises :class:`InputError` with its line."""
    try:
        return jsontext.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        raise InputError.single(
            str(path), f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except UnicodeDecodeError:
        raise InputError.single(str(path), "not valid JSON: the file is not UTF-8 text") from None
    except OSError as exc:
        raise InputError.single(str(path), f"cannot be read: {exc.strerror}") from None


def parse_subscribed_skus(doc: Mapping[str, Any], *, origin: str = SKUS_FILE) -> dict[str, str]:
    """The answer of ``GET /v1.0/subscribedSkus`` → ``{skuId: skuPartNumber}``."""
    log = ProblemLog(origin)
    skus = doc.get("value") if isinstance(doc, Mapping) else None
    if not isinstance(skus, list):
        raise InputError.single(origin, "expected an object with a 'value' array of SKUs")
    out: dict[str, str] = {}
    for pos, sku in enumerate(skus, start=1):
        sku_id = sku.get("skuId") if isinstance(sku, Mapping) else None
        part = sku.get("skuPartNumber") if isinstance(sku, Mapping) else None
        for field, value in (("skuId", sku_id), ("skuPartNumber", part)):
            if not isinstance(value, str) or not value.strip():
                log.add(f"SKU #{pos} has no {field}", row=pos, column=field)
        if isinstance(sku_id, str) and isinstance(part, str):
            out[sku_id.strip()] = part.strip()
    log.raise_if_any()
    return out


def parse_users_pages(
    pages: Iterable[Mapping[str, Any]],
    sku_part_numbers: Mapping[str, str],
    *,
    origin: str = "graph",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Graph users pages → conformed ACCOUNTS and ACCOUNT_LICENSES frames.

    Problems name "<origin> page <n>" and the user's 1-based position in that
    page's ``value`` array. An unknown SKU gets an NA part number (unpriced);
    see :func:`unknown_sku_note`.
    """
    named = ((f"{origin} page {n}", page) for n, page in enumerate(pages, start=1))
    return _parse_pages(named, sku_part_numbers)


def unknown_sku_note(licenses: pd.DataFrame) -> str | None:
    """A note for the run log when licences carry SKUs missing from subscribedSkus, else None."""
    unknown = licenses.loc[licenses["sku_part_number"].isna(), "sku_id"]
    if unknown.empty:
        return None
    ids = sorted(unknown.unique())
    listed = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    return (
        f"{len(unknown)} licence assignment{'s' if len(unknown) != 1 else ''} of "
        f"{len(ids)} SKU{'s' if len(ids) != 1 else ''} not in subscribedSkus ({listed}): "
        "reported as unpriced"
    )


def _page_users(
    name: str, doc: Any, log: ProblemLog, *, require_sign_in: bool = True
) -> tuple[list[dict[str, Any]], list[bool]]:
    users = doc.get("value") if isinstance(doc, Mapping) else None
    if not isinstance(users, list):
        log.add(_EXPECTED_PAGE, file=name)
        return [], []
    if require_sign_in:
        _check_context(name, doc.get("@odata.context"), log)
    ok = [isinstance(user, dict) for user in users]
    for pos in (p for p, is_object in enumerate(ok, start=1) if not is_object):
        log.add(f"user #{pos} is not a JSON object", row=pos, file=name)
    return [user if isinstance(user, dict) else {} for user in users], ok


def _check_context(name: str, context: Any, log: ProblemLog) -> None:
    """A problem when the page's ``@odata.context`` shows a $select without signInActivity."""
    if isinstance(context, str) and "#users(" in context:
        selected = context.split("#users(", 1)[1].rstrip(")").casefold().split(",")
        if SIGNAL.casefold() not in selected:
            log.add(
                "exported without signInActivity in $select: every user would look as if "
                "they never signed in",
                file=name,
            )


def _read_page(
    name: str, doc: Any, log: ProblemLog, *, require_sign_in: bool
) -> tuple[dict[str, list[Any]], list[bool], Any]:
    """One page's users as columns, which of them were objects, and its ``@odata.nextLink``.

    ``doc`` is a page parsed as JSON, or decoded by :mod:`.typed_page` (the live pull).
    """
    if isinstance(doc, typed_page.Page):
        if require_sign_in:
            _check_context(name, doc.context, log)
        return typed_page.columns(doc), [True] * len(doc.value), doc.next_link
    page, ok = _page_users(name, doc, log, require_sign_in=require_sign_in)
    activities = _activities(page)
    found = {column: read(page, activities) for column, read in USER_COLUMNS.items()}
    return found, ok, doc.get("@odata.nextLink") if isinstance(doc, Mapping) else None


def _sku_ids(user: Mapping[str, Any]) -> tuple[str | None, ...] | None:
    """A user's assigned SKU ids; None inside for an entry that is not one, None for none."""
    assigned = user.get("assignedLicenses")
    if not assigned:
        return None
    if not isinstance(assigned, list):
        return (None,)
    return tuple(
        [sku_id_of(lic.get("skuId")) if isinstance(lic, dict) else None for lic in assigned]
    )


def _activities(users: list[dict[str, Any]]) -> list[Any]:
    """Each user's signInActivity: an object, {} when absent, else the value as given."""
    return [u.get(SIGNAL) or {} for u in users]


#: A column's reader: one page's users (dicts) and their :func:`_activities` → its values.
Reader = Callable[[list[dict[str, Any]], list[Any]], list[Any]]


def _field(name: str) -> Reader:
    # One comprehension a page (no call a user): a million users, a dozen properties.
    # Text is stripped once the column is whole (model.stripped_text), not value by value.
    return lambda users, _: [u.get(name) for u in users]


def _sign_in_field(name: str) -> Reader:
    return lambda _, activities: [a.get(name) if isinstance(a, dict) else None for a in activities]


#: What is kept of every user as the pages arrive, by column: each entry reads
#: one page's users into that column's values, and the page is dropped once
#: read. A new Graph property is one entry here.
USER_COLUMNS: dict[str, Reader] = {
    **{field: _field(field) for field in (*TEXT_FIELDS, "createdDateTime")},
    "accountEnabled": lambda users, _: [u.get("accountEnabled") for u in users],
    # signInActivity where it is not an object (for the problem), else None.
    SIGNAL: lambda _, activities: [None if isinstance(a, dict) else a for a in activities],
    **{f"{SIGNAL}.{field}": _sign_in_field(field) for field in SIGN_IN_FIELDS},
    "assignedLicenses": lambda users, _: [_sku_ids(u) for u in users],
}


class _Users:
    """Every user of every page as columns (:data:`USER_COLUMNS`), with where each came from."""

    def __init__(
        self, pages: Iterable[tuple[str, Any]], log: ProblemLog, *, require_sign_in: bool = True
    ) -> None:
        self.log = log
        self.names: list[str] = []
        self.columns: dict[str, list[Any]] = {name: [] for name in USER_COLUMNS}
        objects: list[bool] = []
        sizes: list[int] = []
        last_link: Any = None
        for name, doc in pages:
            found, ok, last_link = _read_page(name, doc, log, require_sign_in=require_sign_in)
            objects.extend(ok)
            self.names.append(name)
            sizes.append(len(ok))
            for column, values in found.items():
                self.columns[column].extend(values)
        if last_link:
            log.add(
                "the last page has an @odata.nextLink: the export stopped before the last page",
                file=self.names[-1],
            )
        #: False for the entries that were not JSON objects (already reported).
        self.objects = np.array(objects, dtype=bool)
        self.count = len(objects)
        self.page_of = np.repeat(np.arange(len(sizes)), sizes)
        self.pos_of = np.concatenate([np.arange(1, n + 1) for n in sizes] or [np.array([], int)])

    def where(self, i: int) -> tuple[str, int]:
        """The file (page) and 1-based position of user ``i``."""
        return self.names[self.page_of[i]], int(self.pos_of[i])

    def report(self, mask: Any, field: str, message: Callable[[int], str]) -> None:
        """A problem for every user where ``mask`` is true; ``message(i)`` follows "user #n"."""
        at = [int(i) for i in np.flatnonzero(np.asarray(mask, dtype=bool))]

        def make(i: int) -> Problem:
            file, pos = self.where(i)
            return Problem(file, f"user #{pos} {message(i)}", pos, field)

        self.log.add_each(at, make)


def _parse_pages(
    pages: Iterable[tuple[str, Any]],
    sku_part_numbers: Mapping[str, str],
    *,
    require_sign_in: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    log = ProblemLog("graph")
    found = _Users(pages, log, require_sign_in=require_sign_in)
    columns = found.columns
    data: dict[str, Any] = {
        col: model.stripped_text(columns[field]) for field, col in TEXT_FIELDS.items()
    }
    for field in ("id", "userPrincipalName"):
        missing = data[TEXT_FIELDS[field]].isna().to_numpy() & found.objects
        found.report(missing, field, constant(f"has no {field}"))
    enabled = columns["accountEnabled"]
    found.report(
        [v is not None and not isinstance(v, bool) for v in enabled],
        "accountEnabled",
        lambda i: f"has accountEnabled {enabled[i]!r}; expected true or false",
    )
    data["account_enabled"] = pd.array(
        [v if isinstance(v, bool) else None for v in enabled], dtype=model.BOOLEAN
    )
    activity = columns[SIGNAL]
    found.report(
        [a is not None for a in activity],
        SIGNAL,
        lambda i: f"has signInActivity {activity[i]!r}; expected an object",
    )
    stamps = [("createdDateTime", "created_at", columns["createdDateTime"])]
    stamps += [(field, col, columns[f"{SIGNAL}.{field}"]) for field, col in SIGN_IN_FIELDS.items()]
    for field, col, values in stamps:
        raw = model.stripped_text(values)
        # "" (which stripped_text made NA) means never too.
        never = raw.str.startswith(NEVER_PREFIX).fillna(False).to_numpy(dtype=bool)
        data[col], bad = parse_timestamps(raw.mask(never))
        found.report(bad, field, _quoting(field, raw, "an ISO 8601 date-time"))
    accounts = model.conform(pd.DataFrame(data), model.ACCOUNTS)
    _check_duplicate_ids(accounts["account_id"], found)
    licenses = _licenses(found, accounts["account_id"], sku_part_numbers)
    log.raise_if_any()
    return accounts, licenses


def _quoting(field: str, values: pd.Series, expected: str) -> Callable[[int], str]:
    return lambda i: f"has {field} {values.iloc[i]!r}; expected {expected}"


def _check_duplicate_ids(ids: pd.Series, found: _Users) -> None:
    keys = model.norm_key(ids)
    repeat = (keys.duplicated(keep="first") & keys.notna()).to_numpy()
    if not repeat.any():
        return
    first = {k: i for i, k in reversed(list(enumerate(keys))) if k is not pd.NA}

    def message(i: int) -> str:
        file, pos = found.where(first[keys.iloc[i]])
        return f"has id {ids.iloc[i]!r}, already used by user #{pos} in {file}"

    found.report(repeat, "id", message)


def _licenses(
    found: _Users, account_ids: pd.Series, sku_part_numbers: Mapping[str, str]
) -> pd.DataFrame:
    owners: list[Any] = []
    skus: list[Any] = []
    bad: list[int] = []
    for i, assigned in enumerate(found.columns["assignedLicenses"]):
        if not assigned:
            continue
        for sku in assigned:
            if sku is None:
                bad.append(i)
            else:
                owners.append(i)
                skus.append(sku)
    found.report(
        np.isin(np.arange(found.count), bad),
        "assignedLicenses",
        constant("has assignedLicenses that are not a list of objects with a skuId"),
    )
    part_numbers = {k.casefold(): v for k, v in sku_part_numbers.items()}
    frame = pd.DataFrame(
        {
            "account_id": account_ids.iloc[owners].to_numpy(),
            "sku_id": model.text(skus),
            "sku_part_number": model.text([part_numbers.get(s.casefold()) for s in skus]),
        }
    )
    frame = frame.loc[frame["account_id"].notna()]
    key = pd.DataFrame(
        {"a": model.norm_key(frame["account_id"]), "s": model.norm_key(frame["sku_id"])}
    )
    return model.conform(frame.loc[~key.duplicated().to_numpy()], model.ACCOUNT_LICENSES)
