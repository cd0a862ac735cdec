"""The run history behind the trend charts: one point per run, month ends, realized savings.

A :class:`RunPoint` holds what one run found, summed exactly as
:func:`licensewatch.reports.finance.totals` sums the costed findings, so a
point read back from the database equals the figures of that run's
findings.csv. The selection and arithmetic here are pure; the ``load_*``
functions read the store (never write).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

import pandas as pd
from sqlalchemy.orm import Session

from licensewatch import model
from licensewatch.reports.finance import totals
from licensewatch.store import history as stored
from licensewatch.store.repository import STORED_FINDINGS

DAYS_PER_YEAR: Final = 365
#: How far back a run's own report looks for its trend (a little over a year).
TREND_DAYS: Final = 400


@dataclass(frozen=True)
class RunPoint:
    """What one run found; money in integer cents."""

    as_of: date
    run_id: int | None
    license_findings: int
    phone_findings: int
    dormant_accounts: int
    separated_accounts: int
    unpriced_findings: int
    annual_avoidable_cents: int
    accrued_avoidable_cents: int

    @property
    def findings(self) -> int:
        """Every dormant resource: licences and phones."""
        return self.license_findings + self.phone_findings


@dataclass(frozen=True)
class PeriodPoint:
    """One date of a period (a month end, or the period's last day) and the run that shows it."""

    day: date
    point: RunPoint


def as_day(value: date) -> date:
    """``value`` as a plain date; a datetime (or pandas Timestamp) must be timezone-aware."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"as_of must be timezone-aware, got naive {value.isoformat()}")
        return date(value.year, value.month, value.day)
    return value


def point_of(costed: pd.DataFrame, as_of: date, run_id: int | None = None) -> RunPoint:
    """The point of costed findings (COSTED_FINDINGS + ``status``), as this run's."""
    t = totals(costed)
    separated = _has_reason(costed["reasons"], model.Reason.SEPARATED)
    licences = costed["resource_kind"].astype(model.STRING) == model.ResourceKind.LICENSE.value
    mask = (separated & licences).fillna(False).astype(bool)
    return RunPoint(
        as_of=as_day(as_of),
        run_id=run_id,
        license_findings=t.license_findings,
        phone_findings=t.phone_findings,
        dormant_accounts=t.dormant_accounts,
        separated_accounts=int(costed.loc[mask, "account_id"].dropna().nunique()),
        unpriced_findings=t.unpriced_findings,
        annual_avoidable_cents=t.annual_avoidable_cents,
        accrued_avoidable_cents=t.accrued_avoidable_cents,
    )


def _has_reason(reasons: pd.Series, reason: model.Reason) -> pd.Series:
    padded = ";" + reasons.astype(model.STRING).fillna("") + ";"
    return padded.str.contains(f";{reason.value};", regex=False)


def points_of(aggregates: pd.DataFrame) -> list[RunPoint]:
    """Points of :data:`licensewatch.store.history.RUN_AGGREGATES` rows, in their order."""
    return [
        RunPoint(
            as_of=as_day(row["as_of"]),
            run_id=int(row["run_id"]),
            license_findings=int(row["license_findings"]),
            phone_findings=int(row["phone_findings"]),
            dormant_accounts=int(row["dormant_accounts"]),
            separated_accounts=int(row["separated_accounts"]),
            unpriced_findings=int(row["unpriced_findings"]),
            annual_avoidable_cents=int(row["annual_avoidable_cents"]),
            accrued_avoidable_cents=int(row["accrued_avoidable_cents"]),
        )
        for row in aggregates.to_dict("records")
    ]


def latest_per_day(points: Iterable[RunPoint]) -> list[RunPoint]:
    """One point per as-of date (a day re-run keeps its latest run), oldest first."""
    by_day: dict[date, RunPoint] = {}
    for point in sorted(points, key=lambda p: (p.as_of, p.run_id or 0)):
        by_day[point.as_of] = point
    return [by_day[day] for day in sorted(by_day)]


def month_ends(first: date, last: date) -> list[date]:
    """The last day of every month from ``first``'s month to ``last`` (those on or before it)."""
    ends: list[date] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        end = date(year, month, calendar.monthrange(year, month)[1])
        if first <= end <= last:
            ends.append(end)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return ends


def period_points(points: Sequence[RunPoint], first: date, last: date) -> list[PeriodPoint]:
    """The period's view dates and the run that shows each: the last run on or before it.

    View dates are every month end from ``first`` to ``last``, and ``last``
    itself when it is not a month end. A date with no run on or before it is
    left out; ``points`` should hold ``ok`` runs only.
    """
    days = month_ends(first, last)
    if not days or days[-1] != last:
        days.append(last)
    ordered = latest_per_day(points)
    chosen: list[PeriodPoint] = []
    for day in days:
        before = [p for p in ordered if p.as_of <= day]
        if before:
            chosen.append(PeriodPoint(day, before[-1]))
    return chosen


def accrued_savings_cents(annual_cents: int, days: int) -> int:
    """``annual_cents`` pro rata over ``days`` (365-day year, half up), as pricing accrues cost."""
    days = max(days, 0)
    return (2 * annual_cents * days + DAYS_PER_YEAR) // (2 * DAYS_PER_YEAR)


def realized_savings_of(removed: pd.DataFrame, as_of: date) -> int:
    """Savings realized by ``as_of``: each removed resource's annual cost pro rata since removal.

    ``removed`` has :data:`licensewatch.store.history.REMOVED_STATE` columns;
    rows removed after ``as_of`` or without a removal time count nothing.
    """
    day = as_day(as_of)
    total = 0
    for row in removed.to_dict("records"):
        removed_at = row["removed_at"]
        if pd.isna(removed_at):
            continue
        days = (day - as_day(removed_at)).days
        total += accrued_savings_cents(int(row["annual_cost_cents"]), days)
    return total


def stored_as_costed(findings: pd.DataFrame) -> pd.DataFrame:
    """A run's stored findings (``STORED_FINDINGS``) in the shape of costed findings + status.

    The store keeps what the reports show; the rest is derived: a finding is
    priced when it has an item, and its annual rate is its annual cost (one
    run prices every finding at the rate in force on its as-of date).
    """
    missing = [c for c in STORED_FINDINGS if c not in findings.columns]
    if missing:
        raise ValueError(f"stored findings lack column(s) {', '.join(missing)}")
    frame = findings.assign(
        priced=findings["item"].notna(),
        annual_rate_cents=findings["annual_cost_cents"],
    )
    out = model.conform(frame, model.COSTED_FINDINGS)
    return out.assign(status=findings["status"].astype(model.STRING).reset_index(drop=True))


def load_points(
    session: Session, *, since: date | None = None, until: date | None = None
) -> list[RunPoint]:
    """Points of the ``ok`` runs with ``since <= as_of <= until``, one per as-of date."""
    return latest_per_day(points_of(stored.run_aggregates(session, since=since, until=until)))


def history_for_run(session: Session, costed: pd.DataFrame, *, as_of: date) -> list[RunPoint]:
    """The trend a run's report shows: earlier ``ok`` runs (one per day) and this run last.

    Earlier means the :data:`TREND_DAYS` before ``as_of``; stored runs of this
    as-of date or later are left out, so a re-run or a run for an earlier day
    shows the history up to its own day. Works inside the run's transaction,
    before or after its own findings are stored.
    """
    day = as_day(as_of)
    earlier = load_points(
        session, since=day - timedelta(days=TREND_DAYS), until=day - timedelta(days=1)
    )
    return [*earlier, point_of(costed, day)]


def realized_savings_cents(session: Session, *, as_of: date) -> int:
    """Savings realized by ``as_of`` from the resources stored as ``removed`` (0 if none)."""
    return realized_savings_of(stored.removed_state(session), as_of)
