"""Seats and group licensing from Graph: what is paid, when it renews, how each licence is held.

Pure parsers of Graph answers, shared by the live source and ``graph-export``:

- ``GET /v1.0/subscribedSkus``: each SKU's ``prepaidUnits`` (``enabled``,
  ``warning``, ``suspended``, ``lockedOut``) and ``consumedUnits``
  (:func:`parse_sku_seats`);
- ``GET /v1.0/directory/subscriptions``: ``skuId``, ``totalLicenses``,
  ``status``, ``isTrial``, ``nextLifecycleDateTime``, ``createdDateTime``
  (:func:`parse_subscriptions`);
- the users' ``licenseAssignmentStates`` (``skuId``, ``assignedByGroup``,
  ``state``, ``error``) (:class:`LicenseStates`, which watches users pages as
  they pass to the users parser, so that parser stays as it is);
- ``GET /v1.0/groups/{id}?$select=id,displayName`` (:func:`parse_group_names`).

A SKU without ``prepaidUnits.enabled`` has no seat row (the seats report shows
its purchase empty); the other prepaid counts default to 0 when Graph leaves them out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from licensewatch import model
from licensewatch.errors import InputError
from licensewatch.sources.graph import typed_page
from licensewatch.sources.graph.user_fields import STATES_FIELD
from licensewatch.sources.tabular.table import ProblemLog, parse_timestamps

SUBSCRIPTIONS_FILE: Final = "subscriptions.json"
GROUPS_FILE: Final = "groups.json"
SUBSCRIPTIONS_PATH: Final = "/directory/subscriptions"
GROUP_SELECT: Final = "id,displayName"
#: prepaidUnits property → SKU_SEATS column (``enabled`` is required, the others default to 0).
PREPAID_FIELDS: Final = {
    "enabled": "enabled",
    "warning": "warning",
    "suspended": "suspended",
    "lockedOut": "locked_out",
}
SUBSCRIPTION_FIELDS: Final = (
    "id",
    "skuId",
    "skuPartNumber",
    "totalLicenses",
    "status",
    "isTrial",
    "nextLifecycleDateTime",
    "createdDateTime",
)
STATE_FIELDS: Final = ("skuId", "assignedByGroup", "state", "error")
_SUBSCRIPTION_COLUMNS: Final = (
    "subscription_id",
    "sku_id",
    "sku_part_number",
    "total_licenses",
    "status",
    "is_trial",
)
NO_RENEWALS: Final = (
    "no subscriptions (GET /directory/subscriptions) were read: seats.csv has no renewal "
    "dates and the finance reports list no renewals"
)


def _count(value: Any) -> int | None:
    """A JSON count (a non-negative integer, not a boolean), else None."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _value_array(doc: Any, origin: str, what: str) -> list[Any]:
    value = doc.get("value") if isinstance(doc, Mapping) else None
    if not isinstance(value, list):
        raise InputError.single(origin, f"expected an object with a 'value' array of {what}")
    return value


def parse_sku_seats(doc: Any, *, origin: str) -> pd.DataFrame:
    """``subscribedSkus`` → SKU_SEATS; bad counts raise ``InputError`` naming SKU and field."""
    log = ProblemLog(origin)
    rows: list[dict[str, Any]] = []
    for pos, sku in enumerate(_value_array(doc, origin, "SKUs"), start=1):
        if not isinstance(sku, Mapping):
            continue  # parse_subscribed_skus reports it
        part = sku.get("skuPartNumber")
        prepaid = sku.get("prepaidUnits")
        if prepaid is None or (isinstance(prepaid, Mapping) and "enabled" not in prepaid):
            continue
        if not isinstance(prepaid, Mapping):
            log.add(
                f"SKU #{pos} has prepaidUnits {prepaid!r}; expected an object", pos, "prepaidUnits"
            )
            continue
        row: dict[str, Any] = {"sku_id": sku.get("skuId"), "sku_part_number": part}
        for field, column in PREPAID_FIELDS.items():
            row[column] = _count(prepaid.get(field, 0))
            if row[column] is None:
                log.add(
                    f"SKU #{pos} has prepaidUnits.{field} {prepaid.get(field)!r}; expected a count",
                    pos,
                    f"prepaidUnits.{field}",
                )
        row["consumed"] = _count(sku.get("consumedUnits", 0))
        if row["consumed"] is None:
            log.add(
                f"SKU #{pos} has consumedUnits {sku.get('consumedUnits')!r}; expected a count",
                pos,
                "consumedUnits",
            )
        rows.append(row)
    log.raise_if_any()
    frame = pd.DataFrame(rows, columns=list(model.SKU_SEATS))
    return model.conform(frame, model.SKU_SEATS)


def parse_subscriptions(doc: Any, *, origin: str) -> pd.DataFrame:
    """``GET /directory/subscriptions`` → SUBSCRIPTIONS; bad values raise ``InputError``."""
    log = ProblemLog(origin)
    rows: list[dict[str, Any]] = []
    for pos, sub in enumerate(_value_array(doc, origin, "subscriptions"), start=1):
        if not isinstance(sub, Mapping):
            log.add(f"subscription #{pos} is not a JSON object", pos)
            continue
        total = _count(sub.get("totalLicenses"))
        trial = sub.get("isTrial")
        for bad, field, expected in (
            (not isinstance(sub.get("id"), str), "id", "a string"),
            (not isinstance(sub.get("skuId"), str), "skuId", "a SKU id"),
            (total is None, "totalLicenses", "a count"),
            (trial is not None and not isinstance(trial, bool), "isTrial", "true or false"),
        ):
            if bad:
                log.add(
                    f"subscription #{pos} has {field} {sub.get(field)!r}; expected {expected}",
                    pos,
                    field,
                )
        rows.append(
            {
                "subscription_id": sub.get("id"),
                "sku_id": sub.get("skuId"),
                "sku_part_number": sub.get("skuPartNumber"),
                "total_licenses": total or 0,
                "status": sub.get("status"),
                "is_trial": trial if isinstance(trial, bool) else None,
                "next": sub.get("nextLifecycleDateTime"),
                "created": sub.get("createdDateTime"),
            }
        )
    frame = pd.DataFrame(rows, columns=[*_SUBSCRIPTION_COLUMNS, "next", "created"])
    for raw, column, field in (
        ("next", "next_lifecycle_at", "nextLifecycleDateTime"),
        ("created", "created_at", "createdDateTime"),
    ):
        text = frame[raw].astype(model.STRING)
        frame[column], unreadable = parse_timestamps(text)
        for pos in (int(i) + 1 for i in np.flatnonzero(unreadable)):
            log.add(
                f"subscription #{pos} has {field} {text.iloc[pos - 1]!r}; expected an ISO "
                "8601 date-time",
                pos,
                field,
            )
    log.raise_if_any()
    return model.conform(frame.drop(columns=["next", "created"]), model.SUBSCRIPTIONS)


class LicenseStates:
    """Collects every user's ``licenseAssignmentStates`` from users pages as they pass.

    ``watch(pages)`` yields each page unchanged; afterwards :meth:`frame` is the
    LICENSE_STATES of every user seen (users without the property hold none).
    """

    def __init__(self) -> None:
        self._rows: list[tuple[Any, ...]] = []
        self.problems: list[str] = []

    def watch(self, pages: Iterable[Any]) -> Iterator[Any]:
        """Yield ``pages`` unchanged, noting the licence states of their users.

        A page is parsed JSON, or decoded with its users' states by :mod:`.typed_page`.
        """
        for number, page in enumerate(pages, start=1):
            if isinstance(page, typed_page.PageWithStates):
                for pos, typed in enumerate(page.value, start=1):
                    self._note(typed_page.states_of(typed), number, pos)
                yield page
                continue
            users = page.get("value") if isinstance(page, Mapping) else None
            for pos, user in enumerate(users if isinstance(users, list) else [], start=1):
                if isinstance(user, Mapping):
                    self._note(user, number, pos)
            yield page

    def _note(self, user: Mapping[str, Any], page: int, pos: int) -> None:
        states = user.get(STATES_FIELD)
        if states is None:
            return
        if not isinstance(states, list):
            self.problems.append(f"page {page} user #{pos}: {STATES_FIELD} is not a list")
            return
        for state in states:
            if not isinstance(state, Mapping) or not isinstance(state.get("skuId"), str):
                self.problems.append(f"page {page} user #{pos}: a licence state has no skuId")
                continue
            group = state.get("assignedByGroup")
            error = state.get("error")
            # Graph spells "no error" as the string "None" (or null).
            self._rows.append(
                (
                    user.get("id"),
                    state.get("skuId"),
                    group or None,
                    None,
                    state.get("state"),
                    None if not error or str(error).casefold() == "none" else error,
                )
            )

    def frame(self, group_names: Mapping[str, str] | None = None) -> pd.DataFrame:
        """LICENSE_STATES of the users seen; ``group_names`` fills ``group_name`` (by id)."""
        frame = pd.DataFrame(self._rows, columns=list(model.LICENSE_STATES))
        frame = frame.loc[frame["account_id"].map(lambda v: isinstance(v, str))]
        names = {k.casefold(): v for k, v in (group_names or {}).items()}
        frame["group_name"] = [
            names.get(g.casefold()) if isinstance(g, str) else None
            for g in frame["assigned_by_group"]
        ]
        return model.conform(frame, model.LICENSE_STATES)

    def group_ids(self) -> list[str]:
        """The distinct licensing groups seen, sorted (what to resolve once per run)."""
        return sorted({str(r[2]) for r in self._rows if isinstance(r[2], str)})


def parse_group_names(docs: Iterable[Any], *, origin: str) -> dict[str, str]:
    """Answers of ``GET /groups/{id}?$select=id,displayName`` → ``{id: displayName}``."""
    names: dict[str, str] = {}
    for pos, doc in enumerate(docs, start=1):
        gid = doc.get("id") if isinstance(doc, Mapping) else None
        name = doc.get("displayName") if isinstance(doc, Mapping) else None
        if not isinstance(gid, str) or not isinstance(name, str):
            raise InputError.single(origin, f"group #{pos} has no id and displayName", pos)
        names[gid] = name
    return names


@dataclass(frozen=True)
class SeatData:
    """What a pull read about seats: SKU_SEATS, SUBSCRIPTIONS (None: not read), LICENSE_STATES."""

    seats: pd.DataFrame
    subscriptions: pd.DataFrame | None
    license_states: pd.DataFrame
    notes: tuple[str, ...]


def seat_data(
    skus_doc: Any,
    states: LicenseStates,
    *,
    subscriptions_doc: Any | None,
    group_docs: Iterable[Any] | None,
    origin: str,
) -> SeatData:
    """The seat data of one pull from its answers (``None``: that answer was not read)."""
    seats = parse_sku_seats(skus_doc, origin=f"{origin} subscribedSkus")
    subscriptions = (
        None
        if subscriptions_doc is None
        else parse_subscriptions(subscriptions_doc, origin=f"{origin} {SUBSCRIPTIONS_FILE}")
    )
    names = {} if group_docs is None else parse_group_names(group_docs, origin=f"{origin} groups")
    frame = states.frame(names)
    unresolved = sorted(set(frame["assigned_by_group"].dropna()) - set(names))
    extra = [f"licence states: {p}" for p in states.problems[:5]]
    if unresolved:
        extra.append(f"{len(unresolved)} licensing group(s) without a display name: shown by id")
    return SeatData(seats, subscriptions, frame, tuple(extra))


def saved_seats(
    folder: Path, skus_doc: Any, pages: list[Any], load: Callable[[Path], Any]
) -> SeatData:
    """Seats of a saved pull: ``subscribedSkus.json``, the pages, and the optional
    ``subscriptions.json`` and ``groups.json`` (one ``GET /groups/{id}`` answer each in
    its ``value`` array), read with ``load``."""
    states = LicenseStates()
    for _ in states.watch(pages):
        pass
    subscriptions, groups = folder / SUBSCRIPTIONS_FILE, folder / GROUPS_FILE
    group_docs = None
    if groups.is_file():
        group_docs = _value_array(load(groups), str(groups), "group answers")
    return seat_data(
        skus_doc,
        states,
        subscriptions_doc=load(subscriptions) if subscriptions.is_file() else None,
        group_docs=group_docs,
        origin=str(folder),
    )
