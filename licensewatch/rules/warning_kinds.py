"""Data warnings summarised by kind: one line per kind with its count and first example.

A night can raise hundreds of data warnings of a handful of kinds (leavers
that match no account, accounts matched by e-mail only, impossible dates).
The log shows one line per kind; every warning stays in ``run_summary.json``
and, at DEBUG level, in the log. A warning's kind is its config table and its
text with the quoted values, dates and numbers taken out, or a name from
:data:`NAMED` for the kinds the rules raise. A capped list ends with
"… and N more …", which counts N more of the kind before it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

#: Kinds the rules raise, by the shape of their text: the name an operator reads.
NAMED: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (re.compile(r"^leaver .* matches no account$"), "leavers that match no account"),
    (
        re.compile(r"^licensed account .* is taken for leaver .* by e-mail only$"),
        "accounts matched to a leaver by e-mail only",
    ),
    (
        re.compile(r"^the exemption of .* names no account or phone$"),
        "exemptions that name no account or phone",
    ),
    (re.compile(r" has (\w+) \S+, (?:before|after) "), "impossible {0} dates"),
)
_TABLE: Final = re.compile(r"^(\[[^\]]+\]): (.*)$", re.DOTALL)
_MORE: Final = re.compile(r"^… and (\d+) more ")
_QUOTED: Final = re.compile(r"'[^']*'|\"[^\"]*\"")
_NUMBER: Final = re.compile(r"\d[\d\-:T.,]*")


@dataclass(frozen=True)
class WarningKind:
    """How many warnings of one kind a run raised, and the first of them."""

    table: str
    kind: str
    count: int
    first: str

    @property
    def line(self) -> str:
        """``[sources.separations]: 123 leavers that match no account (first: …)``."""
        where = f"{self.table}: " if self.table else ""
        return f"{where}{self.count:,} {self.kind} (first: {self.first})"

    def as_dict(self) -> dict[str, object]:
        """The kind as ``run_summary.json`` stores it."""
        return {"table": self.table, "kind": self.kind, "count": self.count, "first": self.first}


def kind_of(body: str) -> str:
    """The kind of one warning's text (without its table)."""
    for pattern, name in NAMED:
        match = pattern.search(body)
        if match:
            return name.format(*match.groups())
    return _NUMBER.sub("N", _QUOTED.sub("…", body))


def summarise(warnings: Sequence[str]) -> list[WarningKind]:
    """One :class:`WarningKind` per table and kind, in the order their first warning came."""
    found: dict[tuple[str, str], WarningKind] = {}
    last: tuple[str, str] | None = None
    for warning in warnings:
        split = _TABLE.match(warning)
        table, body = (split.group(1), split.group(2)) if split else ("", warning)
        more = _MORE.match(body)
        if more and last is not None and last[0] == table:
            seen = found[last]
            found[last] = WarningKind(table, seen.kind, seen.count + int(more.group(1)), seen.first)
            continue
        key = (table, kind_of(body))
        seen_before = found.get(key)
        if seen_before is None:
            found[key] = WarningKind(table, key[1], 1, body)
        else:
            found[key] = WarningKind(table, key[1], seen_before.count + 1, seen_before.first)
        last = key
    return list(found.values())
