"""Finance's figures beyond the totals: where each dormant resource's cost stands, why, and the
change since a month ago. Pure; every amount sums the same per-finding cents as findings.csv.

- **By decision** (:func:`decision_amounts`): approved for removal and pending (no failed
  attempt), removal failed (the last Graph attempt was refused), kept (a focal point's
  justified exception), and open (no decision yet). The four add up to the annual avoidable cost.
- **By reason** (:func:`reason_amounts`): each finding counted once, under its first reason in
  ``model.REASON_ORDER`` (so SEPARATED, the leavers, comes first); the rows add up to the total.
- **Month on month** (:func:`month_on_month`): against the latest run on or before the same day
  a month earlier.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd

from licensewatch import model
from licensewatch.per_value import per_value
from licensewatch.reports.findings import costs_cents
from licensewatch.reports.history import RunPoint


@dataclass(frozen=True)
class Amount:
    """A labelled count of findings and their annual cost in cents."""

    label: str
    findings: int
    annual_cents: int


@dataclass(frozen=True)
class MonthOnMonth:
    """The annual avoidable cost against the run of a month earlier."""

    previous_as_of: date
    previous_cents: int
    change_cents: int


@dataclass(frozen=True)
class FinanceFigures:
    """The figures of one as-of date (see the module docstring)."""

    by_decision: tuple[Amount, ...]
    by_reason: tuple[Amount, ...]
    leavers_cents: int
    month_on_month: MonthOnMonth | None


def _amount(label: str, mask: pd.Series, annual: pd.Series) -> Amount:
    return Amount(label, int(mask.sum()), int(annual[mask].sum()))


def decision_amounts(costed: pd.DataFrame, failed: Collection[str]) -> tuple[Amount, ...]:
    """Approved and pending, removal failed, kept, open (``failed``: resource ids)."""
    annual, _ = costs_cents(costed)
    index = costed.index
    decision = (
        costed["decision"].astype(model.STRING)
        if "decision" in costed.columns
        else pd.Series(pd.NA, index=index, dtype=model.STRING)
    )
    status = costed["status"].astype(model.STRING) if "status" in costed.columns else decision
    removing = (decision == "remove").fillna(False).astype(bool)
    did_fail = pd.Series(model.isin(costed["resource_id"], list(failed)), costed.index) & removing
    kept = (status == model.FindingStatus.KEPT.value).fillna(False).astype(bool) & ~removing
    return (
        _amount("approved for removal, pending", removing & ~did_fail, annual),
        _amount("removal failed", did_fail, annual),
        _amount("kept (justified exception)", kept, annual),
        _amount("no decision yet", ~removing & ~kept, annual),
    )


def reason_amounts(costed: pd.DataFrame) -> tuple[Amount, ...]:
    """Each finding once, under its first reason in REASON_ORDER; reasons with none left out."""
    annual, _ = costs_cents(costed)
    rank = {r.value: i for i, r in enumerate(model.REASON_ORDER)}
    first = per_value(
        costed["reasons"].astype(model.STRING),
        lambda text: min(text.split(";"), key=lambda c: rank.get(c, len(rank))),
        "",
    )
    return tuple(
        _amount(reason.value, first == reason.value, annual)
        for reason in model.REASON_ORDER
        if (first == reason.value).any()
    )


def month_on_month(history: Sequence[RunPoint], as_of: date) -> MonthOnMonth | None:
    """The change since the latest run on or before a month before ``as_of`` (None: no such run)."""
    current = next((p for p in reversed(history) if p.as_of == as_of), None)
    # 31 March less a month is 29 February: the offset keeps to the month's last day.
    month_ago = (pd.Timestamp(as_of) - pd.DateOffset(months=1)).date()
    earlier = [p for p in history if p.as_of <= month_ago]
    if current is None or not earlier:
        return None
    before = max(earlier, key=lambda p: p.as_of)
    change = current.annual_avoidable_cents - before.annual_avoidable_cents
    return MonthOnMonth(before.as_of, before.annual_avoidable_cents, change)


def finance_figures(
    costed: pd.DataFrame, failed: Collection[str], history: Sequence[RunPoint], as_of: date
) -> FinanceFigures:
    """Every figure of the module for one as-of date."""
    reasons = reason_amounts(costed)
    leavers = sum(a.annual_cents for a in reasons if a.label == model.Reason.SEPARATED.value)
    return FinanceFigures(
        decision_amounts(costed, failed), reasons, leavers, month_on_month(history, as_of)
    )
