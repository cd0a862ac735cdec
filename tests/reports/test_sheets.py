"""The XLSX writer (reports.sheets): Sheet specs in constant memory, read back with openpyxl."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from licensewatch.reports import sheets
from licensewatch.reports.sheets import COUNT, DAY, MONEY, TEXT, Book, Column, Sheet

COLUMNS = [Column("name", TEXT), Column("days", COUNT), Column("cost", MONEY), Column("on", DAY)]
ROWS = [
    ["=cmd|' /C calc'!A0", 31, Decimal("189.60"), date(2019, 6, 1)],
    [None, None, None, None],
    [pd.NA, 0, Decimal("0.00"), datetime(2019, 12, 31, 23, 30, tzinfo=UTC)],
    ["Zoë", 1_000_000, 12345678.91, pd.NaT],
]


def written(tmp_path: Path, *specs: Sheet) -> openpyxl.Workbook:
    path = tmp_path / "book.xlsx"
    with Book(path) as book:
        sheets.write_sheets(book, specs)
    return openpyxl.load_workbook(path)


def test_values_types_and_formats_read_back(tmp_path: Path) -> None:
    ws = written(
        tmp_path, Sheet("Table", COLUMNS, ROWS, ["Total", 1_000_031, Decimal("5.5"), None])
    )["Table"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("name", "days", "cost", "on")
    assert rows[1] == ("'=cmd|' /C calc'!A0", 31, 189.6, datetime(2019, 6, 1))
    assert rows[2] == (None, None, None, None)
    assert rows[3] == (None, 0, 0, datetime(2019, 12, 31))
    assert rows[4] == ("Zoë", 1_000_000, 12345678.91, None)
    assert all(v is None for v in rows[5])
    assert rows[6] == ("Total", 1_000_031, 5.5, None)
    assert ws["A2"].data_type == "s" and ws["A5"].data_type == "s"
    assert ws["B2"].number_format == sheets.COUNT_FORMAT
    assert ws["C2"].number_format == sheets.MONEY_FORMAT
    assert ws["D2"].number_format == sheets.DATE_FORMAT and ws["D2"].is_date
    assert ws["C3"].number_format == sheets.MONEY_FORMAT  # a blank keeps its column's format
    assert ws["A1"].font.bold and ws["A1"].fill.fgColor.rgb.endswith("2B6CB0")
    assert ws["A7"].font.bold and ws["B7"].font.bold
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:D5"
    assert ws.column_dimensions["A"].width >= len("=cmd|' /C calc'!A0")


def test_several_specs_make_several_sheets_in_order(tmp_path: Path) -> None:
    book = written(
        tmp_path,
        Sheet("First", [Column("a", TEXT)], [["x"]]),
        Sheet("Empty", [Column("a", TEXT), Column("b", COUNT)], []),
        Sheet("Third", [Column("n", COUNT)], ([i] for i in range(3000))),
    )
    assert book.sheetnames == ["First", "Empty", "Third"]
    assert list(book["Empty"].iter_rows(values_only=True)) == [("a", "b")]
    assert book["Empty"].auto_filter.ref == "A1:B1"
    third = [r[0] for r in book["Third"].iter_rows(min_row=2, values_only=True)]
    assert third == list(range(3000))  # past the width sample too


def test_rows_beyond_a_worksheet_are_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sheets, "MAX_ROWS", 5)
    path = tmp_path / "cut.xlsx"
    with Book(path) as book:
        count = sheets.write_table(book, "Cut", [Column("n", COUNT)], ([i] for i in range(9)))
    assert count == 5
    assert openpyxl.load_workbook(path)["Cut"].max_row == 6
