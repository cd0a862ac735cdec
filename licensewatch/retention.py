"""``[retention]``: how long row-level history, email bodies and report folders are kept.

Every run's row (its counts, totals and summary) is kept for ever; so is
what the current cycle needs whatever its age: the resource state (unanswered
findings included), the decisions, undelivered messages, and the findings of
the last good run (the brake's baseline and the approved removal list). What
is older than its limit is deleted by the nightly run after its commit and by
``licensewatch db prune``; see :mod:`licensewatch.store.prune`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Final

from licensewatch.errors import ConfigError
from licensewatch.options import reject_unknown


@dataclass(frozen=True)
class Retention:
    """Days to keep each kind of history (counted back from today)."""

    #: A run's findings rows (its totals stay in the runs row, summed before the rows go).
    findings_days: int = 400
    #: The bytes of delivered emails (the outbox row, its delivery and recipients, stay).
    outbox_days: int = 400
    #: The report folders ``reports/<as_of>/`` and ``reports/dry-run/<as_of>/``.
    reports_days: int = 400


#: The keys of ``[retention]``.
RETENTION_KEYS: Final = tuple(f.name for f in fields(Retention))


def retention(doc: Mapping[str, Any]) -> Retention:
    """The ``[retention]`` table checked: whole numbers of days, at least 1."""
    table = doc.get("retention", {})
    if not isinstance(table, dict):
        raise ConfigError("'retention' must be a table", hint="write it as [retention]")
    names = tuple(f.name for f in fields(Retention))
    reject_unknown(table, names, "[retention]", quote=False, valid_in_hint=True)
    values: dict[str, int] = {}
    for name in names:
        if name not in table:
            continue
        value = table[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(
                f"[retention] {name} = {value!r}: must be a whole number of days, at least 1",
                hint="e.g. 400 keeps a year and a month",
            )
        values[name] = value
    return Retention(**values)
