"""finance_summary.xlsx: sheets, formats, frozen headers, filters, totals, formula injection."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import openpyxl
import pandas as pd
import pytest

from licensewatch.reports import sheets, xlsx
from licensewatch.reports.finance_view import FinanceView, finance_view
from licensewatch.reports.history import PeriodPoint, point_of
from licensewatch.reports.sheets import MONEY_FORMAT
from licensewatch.reports.xlsx import finance_workbook
from tests.reports.costed import AS_OF, costed, finding
from tests.reports.test_findings import COSTED

RATES = pd.DataFrame(
    {
        "item": pd.Series(["M365_E3", "IP_PHONE"], dtype="string"),
        "description": pd.Series(["Microsoft 365 E3 licence", "@IP phone"], dtype="string"),
        "resource_kind": pd.Series(["license", "phone"], dtype="string"),
        "matches": pd.Series(["SPE_E3", "*"], dtype="string"),
        "annual_rate_cents": pd.Series([18960, 23000], dtype="int64"),
        "effective_from": pd.to_datetime(["2016-01-01", "2016-01-01"], utc=True),
        "effective_to": pd.to_datetime(["2020-12-31", None], utc=True),
    }
)
SHEETS = ["Overview", "Summary", "Departments", "Findings", "Rate card", "Trend"]


def view_of(frame: pd.DataFrame, **extra: Any) -> FinanceView:
    """The view of ``frame`` as of 2019-12-31, its trend one point (``extra`` overrides)."""
    point = point_of(frame, AS_OF.date(), run_id=7)
    arguments: dict[str, Any] = {
        "as_of": AS_OF,
        "rate_card_in_force": RATES,
        "trend": [PeriodPoint(date(2019, 12, 31), point)],
        "realized_savings_cents": 12345,
        **extra,
    }
    return finance_view(frame, **arguments)


def workbook(view: FinanceView) -> Any:
    return openpyxl.load_workbook(io.BytesIO(finance_workbook(view)))


def cents(value: object) -> int:
    """A money cell as integer cents (openpyxl reads numbers back as float or int)."""
    assert isinstance(value, int | float), value
    return int((Decimal(str(value)) * 100).to_integral_value())


def overview(ws: Any) -> dict[str, object]:
    return {row[0]: row[1] for row in ws.iter_rows(values_only=True) if row[0] and len(row) > 1}


def test_sheets_and_headline_figures() -> None:
    wb = workbook(view_of(COSTED))
    assert wb.sheetnames == SHEETS
    figures = overview(wb["Overview"])
    assert figures["As of"] == datetime(2019, 12, 31)
    assert figures["Dormant accounts"] == 4
    assert figures["Dormant licences"] == 5
    assert figures["Dormant phones"] == 1
    assert figures["Unpriced (not on the rate card)"] == 1
    assert cents(figures["Annual avoidable cost (USD)"]) == 4 * 18960 + 23000
    assert cents(figures["Accrued avoidable cost (USD)"]) == 12345 + 11064 + 5000 + 333 + 1
    assert cents(figures["Realized savings to date (USD)"]) == 12345
    assert wb["Overview"]["A1"].value != "BRAKED"


def test_summary_sheet_formats_filter_and_total() -> None:
    ws = workbook(view_of(COSTED))["Summary"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == (
        "department", "resource_kind", "item", "dormant_count", "annual_rate_usd",
        "annual_avoidable_usd", "accrued_avoidable_usd",
    )  # fmt: skip
    data = rows[1:6]
    assert [r[:4] for r in data] == [
        ("(unassigned)", "license", "M365_E3", 1),
        ("Finance", "license", "M365_E3", 1),
        ("Finance", "license", "(unpriced)", 1),
        ("Finance", "phone", "IP_PHONE", 1),
        ("Legal", "license", "M365_E3", 2),
    ]
    assert rows[6] == (None,) * 7 or all(v is None for v in rows[6])
    total = rows[7]
    assert total[0] == "Total" and total[3] == 6
    assert cents(total[5]) == sum(cents(r[5]) for r in data) == 4 * 18960 + 23000
    assert cents(total[6]) == sum(cents(r[6]) for r in data) == 28743
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:G6"
    for row in ws.iter_rows(min_row=2, max_row=6, min_col=5, max_col=7):
        for cell in row:
            if cell.value is not None:
                assert cell.number_format == MONEY_FORMAT
                assert cell.data_type == "n"
    assert ws["E4"].value is None  # the unpriced group has no rate
    widths = {k: d.width for k, d in ws.column_dimensions.items()}
    assert widths["A"] >= len("(unassigned)") and widths["G"] >= len("accrued_avoidable_usd")


def test_findings_sheet_types_and_formula_injection() -> None:
    ws = workbook(view_of(COSTED))["Findings"]
    header = [c.value for c in ws[1]]
    assert header[:3] == ["department", "resource_kind", "subject"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:O7"
    all_rows = list(ws.iter_rows(min_row=2))
    rows = {r[2].value: r for r in all_rows}
    carol = rows["carol@x.org"]
    name = carol[header.index("display_name")]
    assert name.value == "'=cmd|' /C calc'!A0" and name.data_type == "s"
    since = carol[header.index("dormant_since")]
    assert since.value == datetime(2019, 6, 1) and since.number_format == "yyyy-mm-dd"
    assert carol[header.index("days_dormant")].value == 31
    annual = carol[header.index("annual_cost_usd")]
    assert cents(annual.value) == 18960 and annual.number_format == MONEY_FORMAT
    phone = rows["SEP2"]
    assert phone[header.index("dormant_since")].value is None
    total = sum(cents(r[header.index("accrued_cost_usd")].value) for r in all_rows)
    assert total == 28743


def test_every_text_cell_is_text_and_neutralized() -> None:
    hostile = costed(
        finding("license:a:e3", "=HYPERLINK(\"http://evil\",\"x\")", "+a@x.org",
                name="@SUM(A1)", accrued=5, days=1),
        finding("license:b:e3", "-Legal", "b@x.org", name="\tTab", accrued=7, days=1),
    )  # fmt: skip
    wb = workbook(view_of(hostile))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    assert cell.data_type == "s"
                    assert cell.value[0] not in "=+-@\t\r", (ws.title, cell.coordinate)
    assert wb["Summary"]["A2"].value == "'-Legal"
    assert wb["Departments"]["A2"].value.startswith("'=HYPERLINK") or wb["Departments"][
        "A3"
    ].value.startswith("'=HYPERLINK")
    assert wb["Rate card"]["B2"].value == "Microsoft 365 E3 licence"
    assert wb["Rate card"]["B3"].value == "'@IP phone"


def test_departments_rate_card_and_trend_sheets() -> None:
    wb = workbook(view_of(COSTED))
    depts = list(wb["Departments"].iter_rows(values_only=True))
    assert [r[0] for r in depts[1:4]] == ["Finance", "Legal", "(unassigned)"]
    assert [cents(r[5]) for r in depts[1:4]] == [41960, 37920, 18960]
    assert depts[-1][0] == "Total" and depts[-1][1:5] == (4, 5, 1, 1)
    rates = list(wb["Rate card"].iter_rows(values_only=True))
    assert rates[1] == (
        "M365_E3", "Microsoft 365 E3 licence", "license", "SPE_E3", 189.6,
        datetime(2016, 1, 1), datetime(2020, 12, 31),
    )  # fmt: skip
    assert rates[2] == ("IP_PHONE", "'@IP phone", "phone", "*", 230, datetime(2016, 1, 1), None)
    assert wb["Rate card"]["E2"].number_format == MONEY_FORMAT
    trend = list(wb["Trend"].iter_rows(values_only=True))
    assert trend[1][:3] == (datetime(2019, 12, 31), datetime(2019, 12, 31), 4)
    assert cents(trend[1][6]) == 4 * 18960 + 23000


def test_braked_overview_says_so_in_large_letters() -> None:
    wb = workbook(view_of(COSTED, braked_reason="accounts feed dropped 40% against 2019-12-30"))
    ws = wb["Overview"]
    assert ws["A1"].value == "BRAKED"
    assert ws["A1"].font.size >= 36 and ws["A1"].font.bold
    assert "accounts feed dropped 40%" in ws["A2"].value
    assert ws.sheet_properties.tabColor.rgb.endswith("C53030")


def test_no_findings_still_makes_a_workbook() -> None:
    wb = workbook(view_of(costed()))
    assert wb.sheetnames == SHEETS
    total = list(wb["Summary"].iter_rows(values_only=True))[-1]
    assert total[0] == "Total" and total[3] == 0 and cents(total[5]) == 0


def test_rows_past_the_width_sample_are_all_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sheets, "WIDTH_SAMPLE", 10)
    n = 50
    rows = [
        finding(f"license:u{i}:e3", f"D{i % 4}", f"u{i}@x.org", accrued=i, days=i) for i in range(n)
    ]
    ws = workbook(view_of(costed(*rows)))["Findings"]
    assert ws.max_row == n + 1
    assert ws.auto_filter.ref == f"A1:O{n + 1}"
    accrued = [cents(r[10]) for r in ws.iter_rows(min_row=2, values_only=True)]
    assert sorted(accrued) == list(range(n))


def test_findings_beyond_a_worksheet_are_cut_and_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sheets, "MAX_ROWS", 4)
    wb = workbook(view_of(COSTED))
    assert wb["Findings"].max_row == 5 and wb["Findings"].auto_filter.ref == "A1:O5"
    note = overview(wb["Overview"])["Findings sheet"]
    assert note == "The Findings sheet lists the first 4 of 6 (findings.csv has all)"


def test_missing_values_are_empty_cells_not_na_text() -> None:
    rates = RATES.assign(description=pd.Series([pd.NA, "phone"], dtype="string"))
    wb = workbook(view_of(COSTED, rate_card_in_force=rates))
    assert wb["Rate card"]["B2"].value is None


def test_findings_read_a_block_at_a_time_are_the_same_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [
        finding(f"license:u{i}:e3", f"D{i % 4}", f"u{i}@x.org", accrued=i, days=i) for i in range(7)
    ]
    view = view_of(costed(*rows))
    whole = list(workbook(view)["Findings"].iter_rows(values_only=True))
    monkeypatch.setattr(xlsx, "_ROWS_AT_A_TIME", 3)  # blocks of 3, 3 and 1
    assert list(workbook(view)["Findings"].iter_rows(values_only=True)) == whole
    assert len(whole) == 8
