"""The answer files attached to a notice: an Excel workbook and a CSV file with the same rows.

The workbook is what most focal points fill in: one sheet, the header frozen,
readable column widths, ``decision`` a drop-down of ``remove``/``keep``,
``keep_until`` a date cell that Excel checks (from the notice's day to a year
later), and every other column locked. The sheet protection has no password:
it stops a slip (sorting one column, typing over a resource id), not a person,
and a password sent to every focal point would protect nothing. What stops a
wrong answer is :func:`~licensewatch.answers.answer_file.read_decisions`,
which checks every row whatever file it comes from.

The CSV file is for those who prefer it: UTF-8 with a byte-order mark (so
Excel opens accents right), ``;``-separated with decimal commas for French
readers (what Excel expects in French locales), ``,`` and points otherwise.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Final

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from licensewatch.answers.answer_file import Decision, latest_keep_until
from licensewatch.reports.csvsafe import csv_text, neutralize

#: The media type of an .xlsx workbook.
XLSX_TYPE: Final = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
#: The columns a focal point fills in; every other column is locked.
ANSWER_COLUMNS: Final = ("decision", "justification", "keep_until")
#: The date format of keep_until cells (Excel's code; shown as 2020-03-31).
DATE_FORMAT: Final = "yyyy-mm-dd"
#: The sheet's name.
SHEET: Final = "decisions"
_WIDTHS: Final = {
    "resource_id": 30, "resource_kind": 9, "subject": 28, "department": 18, "display_name": 22,
    "reasons": 22, "dormant_since": 12, "last_activity": 12, "separation_date": 12,
    "item": 12, "product": 16, "annual_cost_usd": 11, "decision": 11, "justification": 36,
    "keep_until": 12,
}  # fmt: skip
_FILL: Final = PatternFill("solid", fgColor="FFF4CC")  # the cells to fill in, pale yellow
_LOCKED: Final = Protection(locked=True)
_OPEN: Final = Protection(locked=False)


def answer_xlsx(table: pd.DataFrame, *, as_of: date, language: str = "en") -> bytes:
    """``table`` (the attachment's columns, text cells) as a protected one-sheet workbook.

    Text is written as text (a cell starting with ``=`` is not a formula);
    ``annual_cost_usd`` as a number with two decimals.
    """
    book = Workbook()
    sheet = book.active
    sheet.title = SHEET
    columns = [str(c) for c in table.columns]
    sheet.append(columns)
    for row in table.itertuples(index=False):
        sheet.append([_value(c, v) for c, v in zip(columns, row, strict=True)])
    last = len(table) + 1
    for i, name in enumerate(columns, start=1):
        letter = get_column_letter(i)
        sheet.column_dimensions[letter].width = max(_WIDTHS.get(name, 14), len(name) + 2)
        header = sheet.cell(row=1, column=i)
        header.font = Font(bold=True)
        header.alignment = Alignment(vertical="top")
        if name == "annual_cost_usd":
            for (cell,) in sheet.iter_rows(min_row=2, max_row=last, min_col=i, max_col=i):
                cell.number_format = "0.00"
        if name in ANSWER_COLUMNS:
            for (cell,) in sheet.iter_rows(min_row=2, max_row=last, min_col=i, max_col=i):
                cell.protection = _OPEN
                cell.fill = _FILL
                if name == "keep_until":
                    cell.number_format = DATE_FORMAT
    if last > 1:
        _validations(sheet, columns, last, as_of, language)
    sheet.freeze_panes = "A2"
    sheet.protection.sheet = True
    # Locked cells may still be selected and copied, and columns widened.
    sheet.protection.formatColumns = False
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _value(column: str, value: object) -> object:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    if column == "annual_cost_usd" and isinstance(value, str) and value:
        return float(value)
    if isinstance(value, str):
        return neutralize(value) if value else None
    return value


def _validations(sheet: object, columns: list[str], last: int, as_of: date, language: str) -> None:
    """The decision drop-down and the keep_until date check, on every data row."""
    french = language == "fr"
    words = ",".join(d.value for d in Decision)
    decision = DataValidation(
        type="list",
        formula1=f'"{words}"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="decision" if not french else "décision",
        error="Choose remove or keep." if not french else "Choisissez remove ou keep.",
    )
    latest = latest_keep_until(as_of)
    keep_until = DataValidation(
        type="date",
        operator="between",
        formula1=f"DATE({as_of.year},{as_of.month},{as_of.day})",
        formula2=f"DATE({latest.year},{latest.month},{latest.day})",
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="keep_until",
        error=(
            f"A date from {as_of} to {latest} (at most one year)."
            if not french
            else f"Une date du {as_of} au {latest} (un an au plus)."
        ),
    )
    for name, validation in (("decision", decision), ("keep_until", keep_until)):
        if name in columns:
            letter = get_column_letter(columns.index(name) + 1)
            validation.add(f"{letter}2:{letter}{last}")
            sheet.add_data_validation(validation)  # type: ignore[attr-defined]


def answer_csv(table: pd.DataFrame, *, language: str = "en") -> str:
    """``table`` as CSV text with a byte-order mark; ``;`` and decimal commas in French."""
    if language == "fr":
        money = table["annual_cost_usd"].str.replace(".", ",", regex=False)
        return "\ufeff" + csv_text(table.assign(annual_cost_usd=money), delimiter=";")
    return "\ufeff" + csv_text(table)
