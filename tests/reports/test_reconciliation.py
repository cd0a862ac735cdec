"""Every report says the same: findings.csv, finance_summary.csv, the XLSX, the HTML, the store.

Built from the tiny organization run by the real pipeline on several days;
totals must agree to the cent.
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
from sqlalchemy.orm import Session

from licensewatch import store
from licensewatch.cli.reports import report_finance
from licensewatch.reports.finance import SUMMARY_COLUMNS
from tests.reports.conftest import RUN_DAYS, History
from tests.reports.test_html import Elements, figures

CENT = Decimal("0.01")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def usd(value: object) -> Decimal:
    """A money value from any report as an exact decimal with two places."""
    return Decimal(str(value)).quantize(CENT)


def test_year_end_reports_reconcile_to_the_cent(history: History, year_end_reports: Path) -> None:
    findings = read_csv(year_end_reports / "findings.csv")
    summary = read_csv(year_end_reports / "finance_summary.csv")
    annual = sum(usd(r["annual_cost_usd"]) for r in findings)
    accrued = sum(usd(r["accrued_cost_usd"]) for r in findings)
    accounts = len({r["owner_upn"] for r in findings if r["resource_kind"] == "license"})
    phones = sum(r["resource_kind"] == "phone" for r in findings)
    assert (annual, len(findings), accounts, phones) == (Decimal("1638.00"), 9, 5, 3)

    assert sum(usd(r["annual_avoidable_usd"]) for r in summary) == annual
    assert sum(usd(r["accrued_avoidable_usd"]) for r in summary) == accrued
    assert sum(int(r["dormant_count"]) for r in summary) == len(findings)

    wb = openpyxl.load_workbook(year_end_reports / "finance_summary.xlsx")
    sheet = list(wb["Summary"].iter_rows(values_only=True))
    rows, total = sheet[1 : len(summary) + 1], sheet[-1]
    assert [tuple("" if v is None else v for v in r[:3]) for r in rows] == [
        (r["department"], r["resource_kind"], r["item"]) for r in summary
    ]
    assert [usd(r[5]) for r in rows] == [usd(r["annual_avoidable_usd"]) for r in summary]
    assert [usd(r[6]) for r in rows] == [usd(r["accrued_avoidable_usd"]) for r in summary]
    assert (total[0], total[3], usd(total[5]), usd(total[6])) == (
        "Total", len(findings), annual, accrued
    )  # fmt: skip
    departments = list(wb["Departments"].iter_rows(values_only=True))
    assert sum(usd(r[5]) for r in departments[1:-2]) == usd(departments[-1][5]) == annual
    assert sum(usd(r[6]) for r in departments[1:-2]) == usd(departments[-1][6]) == accrued
    detail = list(wb["Findings"].iter_rows(values_only=True))
    assert len(detail) - 1 == len(findings)
    assert sum(usd(r[9]) for r in detail[1:]) == annual
    assert sum(usd(r[10]) for r in detail[1:]) == accrued
    overview = {r[0]: r[1] for r in wb["Overview"].iter_rows(values_only=True) if len(r) > 1}
    assert usd(overview["Annual avoidable cost (USD)"]) == annual
    assert usd(overview["Accrued avoidable cost (USD)"]) == accrued
    assert (overview["Dormant accounts"], overview["Dormant phones"]) == (accounts, phones)
    assert usd(overview["Realized savings to date (USD)"]) == 0

    page = (year_end_reports / "finance_summary.html").read_text(encoding="utf-8")
    shown = figures(page)
    assert usd(shown["annual_avoidable_usd"]) == annual
    assert usd(shown["accrued_avoidable_usd"]) == accrued
    assert (int(shown["dormant_accounts"]), int(shown["dormant_phones"])) == (accounts, phones)
    assert usd(shown["realized_savings_usd"]) == 0
    cells = [a for a in Elements(page).all("td") if "data-value" in a]
    assert sum(usd(a["data-value"]) for a in cells) == annual + accrued

    engine = store.open_engine(history.settings.database_url)
    try:
        with Session(engine) as session:
            run = next(r for r in store.list_runs(session) if r.as_of == RUN_DAYS[-1])
    finally:
        engine.dispose()
    assert usd(Decimal(run.annual_avoidable_cents) / 100) == annual
    assert usd(Decimal(run.accrued_avoidable_cents) / 100) == accrued


def test_period_report_equals_each_days_finance_summary(history: History, tmp_path: Path) -> None:
    path = report_finance(history.settings, date_from=None, date_to=None, fmt="csv", out=tmp_path)
    period = read_csv(path)
    shown = sorted({r["date"] for r in period})
    # Month ends of the history; the mid-month run of 2019-12-15 is no month end.
    assert shown == ["2019-10-31", "2019-11-30", "2019-12-31"]
    for day in shown:
        expected = read_csv(history.reports(date.fromisoformat(day)) / "finance_summary.csv")
        got = [
            {k: r[k] for k in SUMMARY_COLUMNS}
            for r in period
            if r["date"] == day and r["figures_as_of"] == day
        ]
        assert got == expected, day


def test_trend_points_equal_each_runs_findings(history: History, tmp_path: Path) -> None:
    path = report_finance(history.settings, date_from=None, date_to=None, fmt="xlsx", out=tmp_path)
    trend = list(openpyxl.load_workbook(path)["Trend"].iter_rows(values_only=True))[1:]
    for row in trend:
        day = row[1].date()
        findings = read_csv(history.reports(day) / "findings.csv")
        assert usd(row[6]) == sum(usd(r["annual_cost_usd"]) for r in findings)
        assert usd(row[7]) == sum(usd(r["accrued_cost_usd"]) for r in findings)
        assert row[4] == sum(r["resource_kind"] == "phone" for r in findings)


def test_the_pipeline_writes_the_workbook_and_the_page(history: History) -> None:
    folder = history.reports(RUN_DAYS[-1])
    assert (folder / "finance_summary.xlsx").is_file()
    page = (folder / "finance_summary.html").read_text(encoding="utf-8")
    findings = read_csv(folder / "findings.csv")
    assert usd(figures(page)["annual_avoidable_usd"]) == sum(
        usd(r["annual_cost_usd"]) for r in findings
    )
