"""The steering committee's view: who left but still holds access, who does not answer, why.

Built from one run's findings (as stored), the resource state (notices sent)
and the run history: separated staff still holding licences or phones, aged
in buckets of days since separation; departments whose focal points were
notified of resources that are still dormant, and for how long; the share of
dormant resources by reason; and the trend. Pure: frames in, view out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

import pandas as pd

from licensewatch import model
from licensewatch.reports.finance import totals
from licensewatch.reports.findings import costs_cents
from licensewatch.reports.history import PeriodPoint, as_day
from licensewatch.reports.render import percent

#: (label, first day, last day or None for no upper bound) of each ageing bucket.
AGEING: Final[tuple[tuple[str, int, int | None], ...]] = (
    ("0–30 days", 0, 30),
    ("31–90 days", 31, 90),
    ("91–180 days", 91, 180),
    ("over 180 days", 181, None),
)


@dataclass(frozen=True)
class AgeingBucket:
    """Separated people whose separation is this many days old, and what they still hold."""

    label: str
    people: int
    licences: int
    phones: int
    annual_avoidable_cents: int


@dataclass(frozen=True)
class SeparatedDepartment:
    """A department's separated staff still holding access."""

    department: str
    people: int
    oldest_days: int
    annual_avoidable_cents: int


@dataclass(frozen=True)
class UnansweredDepartment:
    """A department notified of resources that are still dormant."""

    department: str
    resources: int
    annual_avoidable_cents: int
    first_notice: date
    days_since_first_notice: int
    notices: int
    #: Of ``resources``: past the deadline the focal points were given, and still within it.
    overdue: int = 0
    within_deadline: int = 0
    overdue_annual_cents: int = 0


@dataclass(frozen=True)
class ReasonShare:
    """How many findings carry a reason, and their share of all findings."""

    code: str
    text: str
    findings: int
    share: str


@dataclass(frozen=True)
class RiskView:
    """Everything the risk report shows, as of one run's date (money in cents)."""

    as_of: date
    findings: int
    dormant_accounts: int
    separated_people: int
    separated_licences: int
    separated_phones: int
    separated_annual_cents: int
    #: People whose separation date is not in the data: days counted from dormant_since.
    estimated_separation_dates: int
    ageing: tuple[AgeingBucket, ...]
    separated_by_department: tuple[SeparatedDepartment, ...]
    unanswered: tuple[UnansweredDepartment, ...]
    reasons: tuple[ReasonShare, ...]
    trend: tuple[PeriodPoint, ...]


def bucket_of(days: int) -> str:
    """The :data:`AGEING` label of a separation ``days`` old (negative counts as 0)."""
    days = max(days, 0)
    for label, _first, last in AGEING:
        if last is None or days <= last:
            return label
    raise AssertionError("the last bucket has no upper bound")


def _days_since(stamps: pd.Series, day: date) -> pd.Series:
    start = pd.Timestamp(day, tz="UTC")
    days: pd.Series = (start - stamps.dt.normalize()).dt.days.clip(lower=0).astype("int64")
    return days


def _people(costed: pd.DataFrame, day: date) -> pd.DataFrame:
    """One row per separated account: department, days since separation, what it holds."""
    annual, _ = costs_cents(costed)
    reasons = ";" + costed["reasons"].astype(model.STRING).fillna("") + ";"
    kind = costed["resource_kind"].astype(model.STRING)
    licence = (kind == model.ResourceKind.LICENSE.value).fillna(False).astype(bool)
    separated = reasons.str.contains(f";{model.Reason.SEPARATED.value};", regex=False)
    held = costed.assign(annual=annual, licence=licence, phone=~licence)
    sep = held[(separated & licence & costed["account_id"].notna()).astype(bool)]
    if "separation_date" not in sep.columns:
        sep = sep.assign(separation_date=pd.Series(pd.NaT, index=sep.index, dtype=model.DATETIME))
    people = sep.groupby("account_id", sort=True).agg(
        department=("department", "first"),
        separation=("separation_date", "min"),
        since=("dormant_since", "min"),
    )
    people["estimated"] = people["separation"].isna()
    people["days"] = _days_since(people["separation"].fillna(people["since"]), day)
    phones = held[held["phone"] & costed["account_id"].isin(people.index)]
    mine = pd.concat([sep, phones]).groupby("account_id")
    people["licences"] = mine["licence"].sum().astype("int64")
    people["phones"] = mine["phone"].sum().astype("int64")
    people["annual"] = mine["annual"].sum().astype("int64")
    people["bucket"] = [bucket_of(int(d)) for d in people["days"]]
    return people


def _ageing(people: pd.DataFrame) -> tuple[AgeingBucket, ...]:
    out = []
    for label, _first, _last in AGEING:
        rows = people[people["bucket"] == label]
        out.append(
            AgeingBucket(
                label=label,
                people=len(rows),
                licences=int(rows["licences"].sum()),
                phones=int(rows["phones"].sum()),
                annual_avoidable_cents=int(rows["annual"].sum()),
            )
        )
    return tuple(out)


def _by_department(people: pd.DataFrame) -> tuple[SeparatedDepartment, ...]:
    grouped = people.groupby("department", sort=True).agg(
        people=("days", "size"), oldest=("days", "max"), annual=("annual", "sum")
    )
    grouped = grouped.reset_index().sort_values(
        ["people", "oldest", "department"], ascending=[False, False, True], kind="stable"
    )
    return tuple(
        SeparatedDepartment(str(r["department"]), int(r["people"]), int(r["oldest"]),
                            int(r["annual"]))
        for r in grouped.to_dict("records")
    )  # fmt: skip


def unanswered(
    costed: pd.DataFrame, notified: pd.DataFrame, day: date, response_days: int = 14
) -> tuple[UnansweredDepartment, ...]:
    """Departments with notified resources still dormant in ``costed``: overdue cost, then age.

    A resource is overdue when its first notice is more than ``response_days``
    old (its deadline passed); departments are sorted by the annual cost of
    their overdue resources, then by days waiting (highest first).

    ``notified`` has :data:`licensewatch.store.history.NOTIFIED_STATE` columns.
    The first notice of a resource is the earlier of the first run that showed
    it notified and its last notice; the department is the one it is routed to now.
    """
    annual, _ = costs_cents(costed)
    current = pd.DataFrame(
        {
            "resource_id": costed["resource_id"].astype(model.STRING),
            "department": costed["department"].astype(model.STRING),
            "annual": annual,
        }
    )
    told = notified[["resource_id", "last_notified_at", "notify_count", "first_notified_on"]]
    waiting = current.merge(told, on="resource_id", how="inner")
    if waiting.empty:
        return ()
    first = waiting["first_notified_on"].where(
        waiting["first_notified_on"].notna()
        & (waiting["first_notified_on"] <= waiting["last_notified_at"].dt.normalize()),
        waiting["last_notified_at"].dt.normalize(),
    )
    # The state is today's: a notice sent after the report's day was not yet waiting then.
    deadline = pd.Timestamp(day, tz="UTC") - pd.Timedelta(days=response_days)
    late = (first < deadline).fillna(False).astype(bool)
    waiting = waiting.assign(first=first, late=late, late_annual=waiting["annual"].where(late, 0))
    waiting = waiting[waiting["first"] <= pd.Timestamp(day, tz="UTC")]
    if waiting.empty:
        return ()
    grouped = (
        waiting.groupby("department", sort=True)
        .agg(
            resources=("resource_id", "size"),
            annual=("annual", "sum"),
            first=("first", "min"),
            notices=("notify_count", "max"),
            overdue=("late", "sum"),
            overdue_annual=("late_annual", "sum"),
        )
        .reset_index()
    )
    grouped["days"] = _days_since(grouped["first"], day)
    grouped = grouped.sort_values(
        ["overdue_annual", "days", "department"], ascending=[False, False, True], kind="stable"
    )
    return tuple(
        UnansweredDepartment(
            department=str(r["department"]),
            resources=int(r["resources"]),
            annual_avoidable_cents=int(r["annual"]),
            first_notice=as_day(r["first"]),
            days_since_first_notice=int(r["days"]),
            notices=int(r["notices"]),
            overdue=int(r["overdue"]),
            within_deadline=int(r["resources"]) - int(r["overdue"]),
            overdue_annual_cents=int(r["overdue_annual"]),
        )
        for r in grouped.to_dict("records")
    )


def reason_shares(costed: pd.DataFrame) -> tuple[ReasonShare, ...]:
    """Findings per reason code and their share of all findings (a finding may have several)."""
    t = totals(costed)
    return tuple(
        ReasonShare(
            code=reason.value,
            text=model.REASON_TEXT[reason],
            findings=t.by_reason.get(reason.value, 0),
            share=percent(t.by_reason.get(reason.value, 0), len(costed)),
        )
        for reason in model.REASON_ORDER
    )


def risk_view(
    costed: pd.DataFrame,
    *,
    as_of: date,
    notified: pd.DataFrame,
    trend: Sequence[PeriodPoint],
    response_days: int = 14,
) -> RiskView:
    """The risk view of one run's costed findings (COSTED_FINDINGS + ``status``) as of ``as_of``."""
    day = as_day(as_of)
    people = _people(costed, day)
    t = totals(costed)
    return RiskView(
        as_of=day,
        findings=len(costed),
        dormant_accounts=t.dormant_accounts,
        separated_people=len(people),
        separated_licences=int(people["licences"].sum()),
        separated_phones=int(people["phones"].sum()),
        separated_annual_cents=int(people["annual"].sum()),
        estimated_separation_dates=int(people["estimated"].sum()),
        ageing=_ageing(people),
        separated_by_department=_by_department(people),
        unanswered=unanswered(costed, notified, day, response_days),
        reasons=reason_shares(costed),
        trend=tuple(trend),
    )
