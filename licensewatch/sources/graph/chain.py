"""Proving a Graph users pull complete: the page chain and the ``$count`` cross-check.

A live pull follows ``@odata.nextLink`` until a page has none, so a page served
without its nextLink in the middle of the chain ends the pull early and silently.
Two checks catch that:

- **Live**: after the last page, ``GET /users/$count`` (header
  ``ConsistencyLevel: eventual``, answer a text/plain integer) must agree with the
  number of users paged within :func:`count_tolerance`: ``max(5, 0.5 %)`` of the
  count. ``$count`` is eventually consistent (an account created or deleted
  during the pull may be counted or not), so an exact match would fail healthy
  nights; a lost page (``page_size`` users, 500 by default) is far outside it.
- **Replay**: a saved pull (``pull --save``) holds :data:`MANIFEST_FILE` listing
  every page file, its ``@odata.nextLink``, the file that link leads to, its user
  count, the total and the ``$count`` value. Replay checks the folder against it
  (:func:`check_saved_chain`): a missing or extra page, a nextLink that differs or
  is missing while the manifest says more follow, or wrong counts fail.

A folder without a manifest (a pull saved before manifests, a hand-made export)
is checked by what its pages say themselves: every page but the last (in natural
name order) must have an ``@odata.nextLink``, the last none, and when every file
name carries a number, the numbers must run without a gap. A middle page deleted
from a folder whose names carry no numbers cannot be seen: save pulls with
``licensewatch pull --save`` to get the manifest.

Chain failures raise :class:`~licensewatch.errors.SourceError` (exit 1, nothing
sent); a manifest that is not valid raises ``InputError``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from licensewatch.errors import InputError, SourceError
from licensewatch.logs import get_logger

log = get_logger(__name__)

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "licensewatch-graph-pull/1"
#: The smallest difference between paged users and ``$count`` that is always tolerated.
COUNT_TOLERANCE_USERS = 5
#: ... and the share of ``$count`` tolerated above that (0.5 %).
COUNT_TOLERANCE_SHARE = 0.005
COUNT_PATH = "/users/$count"
_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def count_tolerance(count: int) -> int:
    """How far the paged users may differ from ``$count``: ``max(5, ceil(0.5 % of count))``."""
    return max(COUNT_TOLERANCE_USERS, math.ceil(COUNT_TOLERANCE_SHARE * max(count, 0)))


def check_count(paged: int, counted: int, *, where: str) -> None:
    """Raise ``SourceError`` when ``paged`` users and ``$count``'s ``counted`` disagree too much."""
    tolerance = count_tolerance(counted)
    if abs(paged - counted) > tolerance:
        raise SourceError(
            f"{where}: {paged:,} users paged but Graph's $count says {counted:,} (more than "
            f"{tolerance:,} apart): the pull is incomplete, nothing was sent",
            hint="run again later; if it recurs, Graph is dropping pages (a page without "
            "@odata.nextLink) — keep the pull with licensewatch pull --save DIR",
        )


def parse_count(body: bytes, *, where: str) -> int:
    """The integer a ``$count`` request answers (text/plain), or ``SourceError``."""
    text = body.decode("utf-8", "replace").strip().lstrip("\ufeff")
    if not text.isdigit():
        raise SourceError(f"{where} answered {text[:40]!r}, not a count of users")
    return int(text)


@dataclass(frozen=True)
class Page:
    """One users page of a pull: its file, how many users it held and its ``@odata.nextLink``."""

    file: str
    users: int
    next_link: str | None


def manifest(pages: Sequence[Page], *, activity: str, count: int | None) -> dict[str, Any]:
    """The :data:`MANIFEST_FILE` document of a pull whose users pages are ``pages``.

    ``count`` is the ``$count`` answer, or None when the count was not verified.
    """
    entries = [
        {
            "file": page.file,
            "users": page.users,
            "next_link": page.next_link,
            "next_file": pages[i + 1].file if i + 1 < len(pages) else None,
        }
        for i, page in enumerate(pages)
    ]
    return {
        "format": MANIFEST_FORMAT,
        "activity": activity,
        "pages": entries,
        "users": sum(p.users for p in pages),
        "count": count,
        "count_tolerance": count_tolerance(count) if count is not None else None,
        "count_verified": count is not None,
    }


def encode_manifest(doc: Mapping[str, Any]) -> bytes:
    """The manifest as the bytes saved (UTF-8 JSON, indented, one trailing newline)."""
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _users(doc: Any) -> int:
    value = doc.get("value") if isinstance(doc, Mapping) else None
    return len(value) if isinstance(value, list) else 0


def _link(doc: Any) -> str | None:
    link = doc.get("@odata.nextLink") if isinstance(doc, Mapping) else None
    return link if isinstance(link, str) and link else None


def check_saved_chain(
    folder: Path, pages: Sequence[tuple[Path, Any]], manifest_doc: Any | None
) -> tuple[bool, str | None]:
    """Check the users ``pages`` (path, parsed JSON; natural order) of a saved pull.

    Returns (complete, note): complete is False only when the manifest records
    that the live pull did not verify its count, and then the note says so.
    Raises ``SourceError`` when the chain is broken, ``InputError`` when the
    manifest is not one.
    """
    if manifest_doc is None:
        _check_self_chain(folder, pages)
        log.info(
            "%s has no %s: its page chain was checked from the pages' own @odata.nextLink only",
            folder,
            MANIFEST_FILE,
        )
        return True, None
    return _check_manifest(folder, pages, manifest_doc)


def _broken(folder: Path, what: str) -> SourceError:
    return SourceError(
        f"the saved Graph pull in {folder} is incomplete: {what}; nothing was sent",
        hint="replay a whole saved pull (licensewatch pull --save DIR keeps one) or pull again",
    )


def _check_self_chain(folder: Path, pages: Sequence[tuple[Path, Any]]) -> None:
    for i, (path, doc) in enumerate(pages):
        link = _link(doc)
        last = i == len(pages) - 1
        if link is None and not last:
            raise _broken(
                folder, f"{path.name} has no @odata.nextLink but {pages[i + 1][0].name} follows"
            )
        if link is not None and last:
            raise _broken(
                folder,
                f"{path.name}, the last page, has an @odata.nextLink: the page it leads to is "
                "missing",
            )
    numbers = [_NUMBER.search(path.name) for path, _ in pages]
    if all(numbers):
        values = [int(m.group(1)) for m in numbers if m]
        for (path, _), before, after in zip(pages[1:], values, values[1:], strict=False):
            if after != before + 1:
                raise _broken(
                    folder,
                    f"page {before + 1} is missing (the pages go from number {before} to "
                    f"{after} at {path.name})",
                )


def _bad_manifest(path: Path, what: str) -> InputError:
    return InputError.single(str(path), f"not a licensewatch pull manifest: {what}")


def _check_manifest(
    folder: Path, pages: Sequence[tuple[Path, Any]], doc: Any
) -> tuple[bool, str | None]:
    where = folder / MANIFEST_FILE
    if not isinstance(doc, Mapping) or doc.get("format") != MANIFEST_FORMAT:
        raise _bad_manifest(where, f"expected an object with format {MANIFEST_FORMAT!r}")
    entries = doc.get("pages")
    if not isinstance(entries, list) or not all(
        isinstance(e, Mapping)
        and isinstance(e.get("file"), str)
        and isinstance(e.get("users"), int)
        and (e.get("next_link") is None or isinstance(e.get("next_link"), str))
        and (e.get("next_file") is None or isinstance(e.get("next_file"), str))
        for e in entries
    ):
        raise _bad_manifest(where, "'pages' must be a list of {file, users, next_link, next_file}")
    by_name = {path.name: doc for path, doc in pages}
    listed = [str(e["file"]) for e in entries]
    _check_listed(folder, by_name, listed)
    _check_entries(folder, entries, by_name, listed)
    total = sum(int(e["users"]) for e in entries)
    if doc.get("users") != total:
        raise _broken(folder, f"{MANIFEST_FILE} says {doc.get('users')} users, its pages {total}")
    count = doc.get("count")
    if count is not None:
        if not isinstance(count, int) or isinstance(count, bool):
            raise _bad_manifest(where, "'count' must be an integer or null")
        check_count(total, count, where=f"the saved Graph pull in {folder}")
        log.info("%s: %d pages, %d users; $count was %d", folder, len(listed), total, count)
        return True, None
    return False, (
        f"{folder.name}: {len(listed)} pages, {total:,} users; the live pull did not verify its "
        "user count ($count): not proven complete, no licence is booked as removed"
    )


def _check_listed(folder: Path, by_name: Mapping[str, Any], listed: Sequence[str]) -> None:
    """The manifest lists exactly the users pages the folder holds."""
    missing = [name for name in listed if name not in by_name]
    if missing:
        shown = ", ".join(missing[:3]) + ("…" if len(missing) > 3 else "")
        verb = "is" if len(missing) == 1 else "are"
        raise _broken(
            folder, f"{len(missing)} of its {len(listed)} users pages {verb} missing ({shown})"
        )
    extra = sorted(set(by_name) - set(listed))
    if extra:
        raise _broken(
            folder,
            f"{', '.join(extra[:3])} {'is' if len(extra) == 1 else 'are'} not "
            f"part of it ({MANIFEST_FILE} lists {len(listed)} pages)",
        )


def _check_entries(
    folder: Path,
    entries: Sequence[Mapping[str, Any]],
    by_name: Mapping[str, Any],
    listed: Sequence[str],
) -> None:
    """Each page links to the next as the manifest recorded, and holds its users."""
    for i, entry in enumerate(entries):
        name = str(entry["file"])
        page = by_name[name]
        following = listed[i + 1] if i + 1 < len(listed) else None
        if entry.get("next_file") != following:
            raise _broken(folder, f"{MANIFEST_FILE} does not link {name} to the page after it")
        if (entry.get("next_link") is None) != (following is None):
            raise _broken(
                folder,
                f"{MANIFEST_FILE} ends the chain at {name} but lists more pages"
                if following is not None
                else f"{MANIFEST_FILE} gives the last page {name} an @odata.nextLink",
            )
        link = _link(page)
        if link != entry.get("next_link"):
            what = (
                "has no @odata.nextLink but more pages follow"
                if link is None
                else "has another @odata.nextLink than the pull recorded"
            )
            raise _broken(folder, f"{name} {what}")
        if _users(page) != entry["users"]:
            raise _broken(
                folder, f"{name} holds {_users(page)} users; the pull recorded {entry['users']}"
            )
