"""What the finance XLSX and HTML reports show, computed once so that both say the same.

A :class:`FinanceView` holds one as-of date's figures (headline totals, the
department × item summary of finance_summary.csv, the rows of findings.csv,
the rate card used) and a trend. Every figure is derived from the same costed
findings with the same functions that write the CSVs, so the reports
reconcile with them to the cent. Pure: frames in, view out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd

from licensewatch import model
from licensewatch.reports.finance import Totals, finance_summary, totals
from licensewatch.reports.finance_figures import FinanceFigures
from licensewatch.reports.findings import costs_cents, findings_table, unpriced_mask
from licensewatch.reports.history import PeriodPoint, as_day
from licensewatch.reports.seats import SeatReport


@dataclass(frozen=True)
class DepartmentRow:
    """One department's dormant resources and avoidable cost (cents)."""

    department: str
    dormant_accounts: int
    license_findings: int
    phone_findings: int
    unpriced_findings: int
    annual_avoidable_cents: int
    accrued_avoidable_cents: int


@dataclass(frozen=True)
class FinanceView:
    """Everything a finance report shows for one as-of date (money in cents)."""

    title: str
    as_of: date
    totals: Totals
    realized_savings_cents: int
    #: finance_summary.csv rows (:data:`licensewatch.reports.finance.SUMMARY_COLUMNS`).
    summary: pd.DataFrame
    departments: tuple[DepartmentRow, ...]
    #: findings.csv rows (:data:`licensewatch.reports.findings.FINDINGS_COLUMNS`).
    findings: pd.DataFrame
    #: The rate-card rows in force on ``as_of`` (``RATE_CARD`` columns).
    rate_card: pd.DataFrame
    trend: tuple[PeriodPoint, ...]
    #: ``(first, last)`` day of a period report; ``None`` for one run's report.
    period: tuple[date, date] | None = None
    #: Set when the run was stopped by the safety brake: the report says so in large letters.
    braked_reason: str | None = None
    #: Seats paid vs assigned vs dormant and renewals in the horizon ("Seats and renewals").
    seats: SeatReport | None = None
    #: By decision, by reason, month on month (``reports.finance_figures``).
    figures: FinanceFigures | None = None


def departments(costed: pd.DataFrame) -> tuple[DepartmentRow, ...]:
    """Per department: dormant accounts, licences, phones, unpriced and costs; costliest first."""
    annual, accrued = costs_cents(costed)
    kind = costed["resource_kind"].astype(model.STRING)
    licence = (kind == model.ResourceKind.LICENSE.value).fillna(False).astype(bool)
    frame = pd.DataFrame(
        {
            "department": costed["department"].astype(model.STRING).fillna(""),
            "account": costed["account_id"].astype(model.STRING).where(licence),
            "licence": licence.astype("int64"),
            "phone": (kind == model.ResourceKind.PHONE.value).fillna(False).astype("int64"),
            "unpriced": unpriced_mask(costed).astype("int64"),
            "annual": annual,
            "accrued": accrued,
        }
    )
    grouped = (
        frame.groupby("department", sort=False)
        .agg(
            accounts=("account", "nunique"),
            licences=("licence", "sum"),
            phones=("phone", "sum"),
            unpriced=("unpriced", "sum"),
            annual=("annual", "sum"),
            accrued=("accrued", "sum"),
        )
        .reset_index()
    )
    grouped["order"] = -grouped["annual"]
    grouped = grouped.sort_values(["order", "department"], kind="stable")
    return tuple(
        DepartmentRow(
            department=str(row["department"]),
            dormant_accounts=int(row["accounts"]),
            license_findings=int(row["licences"]),
            phone_findings=int(row["phones"]),
            unpriced_findings=int(row["unpriced"]),
            annual_avoidable_cents=int(row["annual"]),
            accrued_avoidable_cents=int(row["accrued"]),
        )
        for row in grouped.to_dict("records")
    )


def finance_view(
    costed: pd.DataFrame,
    *,
    as_of: date,
    rate_card_in_force: pd.DataFrame,
    trend: Sequence[PeriodPoint],
    realized_savings_cents: int = 0,
    title: str = "Avoidable cost of dormant accounts and phones",
    period: tuple[date, date] | None = None,
    braked_reason: str | None = None,
    seats: SeatReport | None = None,
    figures: FinanceFigures | None = None,
) -> FinanceView:
    """The view of costed findings (COSTED_FINDINGS + ``status``) as of ``as_of``."""
    return FinanceView(
        title=title,
        as_of=as_day(as_of),
        totals=totals(costed),
        realized_savings_cents=int(realized_savings_cents),
        summary=finance_summary(costed),
        departments=departments(costed),
        findings=findings_table(costed),
        rate_card=rate_card_in_force.sort_values(["resource_kind", "item"]).reset_index(drop=True),
        trend=tuple(trend),
        period=period,
        braked_reason=braked_reason,
        seats=seats,
        figures=figures,
    )
