"""Dates no feed can truly hold, set aside before they become money. Pure.

A last sign-in in the year 1000 or a separation on 0001-01-01 would make a
licence dormant for a thousand years (and accrue its cost for as long); a last
sign-in on 9999-12-31 would keep an account active for ever. The rule, applied
once to every pulled frame before any rule sees it (``licensewatch.night.inputs.screen``):

- **Floor.** A date before :data:`FLOOR` (1990-01-01 UTC) is impossible in
  every column checked below. Activity, creation and phone dates become
  missing (NaT); a separation dated before it is ignored (its date becomes
  missing, so it makes nobody a leaver).
- **Future.** An activity, creation or phone date later than the end of the
  as-of day, or than the moment the feeds were read if that is later, by more
  than :data:`FUTURE_TOLERANCE` (clock skew between systems) is impossible and
  becomes missing. The moment of reading counts because re-running an earlier
  ``--as-of`` with today's feeds sees real sign-ins after that day. A
  separation date after the as-of day is normal (a leaver still to come) and
  is left alone, whatever its year.
- ``hired_on`` is not checked: hire dates before 1990 are real, and a hire
  date only ever cancels a separation it follows.

Each date set aside is a data warning naming the feed, the record and the
column ("[sources.accounts]: account 'x@y' (id '…') has last_interactive_at
9999-12-31, after 2026-12-01 (the as-of day or when it was read): treated as missing"),
listed in the run summary's ``warnings`` and counted per ``<feed>.<column>``
in ``implausible_dates``; ``--strict`` makes them errors (exit 2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import pandas as pd

from licensewatch import model

#: The earliest date any feed's date column may hold.
FLOOR: Final = pd.Timestamp("1990-01-01", tz="UTC")
#: How far past the as-of day (or the moment of reading) a date may lie: clock skew.
FUTURE_TOLERANCE: Final = pd.Timedelta(days=1)
#: At most this many warnings per feed and column are worded; the rest are counted.
WARNINGS_PER_COLUMN: Final = 50

#: The columns checked per feed, and whether a date in the future is impossible there.
CHECKED: Final[dict[str, dict[str, bool]]] = {
    "accounts": {
        "created_at": True,
        "last_interactive_at": True,
        "last_noninteractive_at": True,
        "last_successful_at": True,
    },
    "phones": {"status_changed_at": True, "last_seen_at": True},
    "separations": {"separation_date": False},
}


@dataclass(frozen=True)
class Checked:
    """A frame with its impossible dates set to NaT, the warnings, and counts per feed.column."""

    frame: pd.DataFrame
    warnings: tuple[str, ...]
    counts: dict[str, int]


def future_limit(as_of: pd.Timestamp, now: pd.Timestamp) -> pd.Timestamp:
    """The latest possible date: the end of the as-of day or ``now`` (when the feeds were read),
    whichever is later, plus :data:`FUTURE_TOLERANCE`."""
    end_of_day = as_of.tz_convert("UTC").normalize() + pd.Timedelta(days=1)
    return max(end_of_day, now.tz_convert("UTC")) + FUTURE_TOLERANCE


def check_dates(
    frame: pd.DataFrame, feed: str, *, as_of: pd.Timestamp, now: pd.Timestamp
) -> Checked:
    """Apply the module's rule to the ``feed`` frame (``accounts``, ``phones``, ``separations``).

    ``as_of`` and ``now`` are timezone-aware; the frame's checked columns are
    canonical UTC timestamps (``model.DATETIME``).
    """
    limit = future_limit(as_of, now)
    latest = (limit - FUTURE_TOLERANCE).date()
    warnings: list[str] = []
    counts: dict[str, int] = {}
    fixed: dict[str, pd.Series] = {}
    for column, future_impossible in CHECKED[feed].items():
        if column not in frame.columns:
            continue
        stamps = frame[column]
        early = (stamps < FLOOR).fillna(False).to_numpy(bool)
        late = (stamps > limit).fillna(False).to_numpy(bool) & future_impossible
        bad = early | late
        if not bad.any():
            continue
        counts[f"{feed}.{column}"] = int(bad.sum())
        fixed[column] = stamps.mask(bad).astype(model.DATETIME)
        effect = "the separation is ignored" if feed == "separations" else "treated as missing"
        rows = frame[bad].head(WARNINGS_PER_COLUMN)
        for (_, row), too_early in zip(rows.iterrows(), early[bad], strict=False):
            bound = (
                f"before {FLOOR.date()}"
                if too_early
                else f"after {latest} (the as-of day or when it was read)"
            )
            warnings.append(
                f"[sources.{feed}]: {_WHO[feed](row)} has {column} "
                f"{_date(row[column])}, {bound}: {effect}"
            )
        if bad.sum() > len(rows):
            more = int(bad.sum()) - len(rows)
            warnings.append(f"[sources.{feed}]: … and {more} more impossible {column} dates")
    return Checked(frame.assign(**fixed) if fixed else frame, tuple(warnings), counts)


def _date(value: pd.Timestamp) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _named(kind: str, name: object, *pairs: tuple[str, object]) -> str:
    """``kind 'name' (label 'value', …)``, leaving out what is missing."""
    ids = ", ".join(f"{label} {text!r}" for label, value in pairs if (text := _text(value)))
    shown = _text(name)
    return " ".join(
        part for part in (kind, repr(shown) if shown else "", f"({ids})" if ids else "") if part
    )


_WHO: Final[dict[str, Callable[[pd.Series], str]]] = {
    "accounts": lambda row: _named("account", row.get("upn"), ("id", row.get("account_id"))),
    "phones": lambda row: _named("phone", row.get("device_name")),
    "separations": lambda row: _named(
        "separation of",
        row.get("name"),
        ("employee_id", row.get("employee_id")),
        ("email", row.get("email")),
    ),
}
