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
from datetime import UTC, date, datetime
from typing import Final

import pandas as pd
import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from licensewatch.answers.answer_file import Decision, latest_keep_until
from licensewatch.reports.csvsafe import csv_text, neutralize
from licensewatch.reports.sheet_rows import (
    CellXml,
    Rows,
    blank_cell,
    number_cell,
    splice_bytes,
    text_cell,
)

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
_FILL: Final = {"bg_color": "#FFF4CC", "pattern": 1}  # the cells to fill in, pale yellow


def answer_xlsx(table: pd.DataFrame, *, as_of: date, language: str = "en") -> bytes:
    """``table`` (the attachment's columns, text cells) as a protected one-sheet workbook.

    Text is written as text (a cell starting with ``=`` is not a formula);
    ``annual_cost_usd`` as a number with two decimals. XlsxWriter writes the
    workbook and its header, the data rows are written as XML by
    :mod:`~licensewatch.reports.sheet_rows` (about 0.5 s for a department of
    25,000 rows), and the same table on the same day gives the same bytes:
    the workbook's creation time is the notice's day and its parts carry
    XlsxWriter's fixed time stamps.
    """
    buffer = io.BytesIO()
    # In memory: a department's sheet without its data rows is small.
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties({"created": datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)})
    sheet = book.add_worksheet(SHEET)
    columns = [str(c) for c in table.columns]
    header = book.add_format({"bold": True, "valign": "top"})
    writers: list[CellXml] = []
    for i, name in enumerate(columns):
        sheet.set_column(i, i, max(_WIDTHS.get(name, 14), len(name) + 2))
        writers.append(_cell(book, name))
    sheet.freeze_panes(1, 0)
    # No password: it stops a slip, not a person. Locked cells may still be
    # selected and copied, and columns widened.
    sheet.protect("", {"format_columns": True})
    last = len(table)
    if last:
        _validations(sheet, columns, last, as_of, language)
    for i, name in enumerate(columns):
        sheet.write_string(0, i, name, header)
    # The data rows as XML, put into the sheet once XlsxWriter has written the rest.
    rows = Rows(1, 1, writers)
    for values in zip(*[table[c].astype(object).tolist() for c in table.columns], strict=True):
        rows.add(values)
    book.close()
    return splice_bytes(buffer.getvalue(), [rows])


def _cell(book: xlsxwriter.Workbook, name: str) -> CellXml:
    """The cell of column ``name``: text (neutralized), money, or an open answer cell."""
    if name in ANSWER_COLUMNS:
        props: dict[str, object] = {"locked": False, **_FILL}
        if name == "keep_until":
            props["num_format"] = DATE_FORMAT
        fmt = book.add_format(props)
    elif name == "annual_cost_usd":
        fmt = book.add_format({"num_format": "0.00"})
    else:
        fmt = None

    blank = blank_cell(fmt)
    text = text_cell(fmt)
    number = number_cell(fmt)

    def cell(value: object) -> str | None:
        if not isinstance(value, str) or not value:
            return blank
        if name == "annual_cost_usd":
            return number(float(value))
        # A string cell, never evaluated, whatever it starts with.
        shown = neutralize(value)
        return text(shown) if shown else blank

    return cell


def _validations(
    sheet: Worksheet, columns: list[str], last: int, as_of: date, language: str
) -> None:
    """The decision drop-down and the keep_until date check, on every data row."""
    french = language == "fr"
    latest = latest_keep_until(as_of)
    rules: dict[str, dict[str, object]] = {
        "decision": {
            "validate": "list",
            "source": [d.value for d in Decision],
            "error_title": "decision" if not french else "décision",
            "error_message": "Choose remove or keep."
            if not french
            else "Choisissez remove ou keep.",
        },
        "keep_until": {
            "validate": "date",
            "criteria": "between",
            "minimum": f"=DATE({as_of.year},{as_of.month},{as_of.day})",
            "maximum": f"=DATE({latest.year},{latest.month},{latest.day})",
            "error_title": "keep_until",
            "error_message": (
                f"A date from {as_of} to {latest} (at most one year)."
                if not french
                else f"Une date du {as_of} au {latest} (un an au plus)."
            ),
        },
    }
    for name, rule in rules.items():
        if name in columns:
            col = columns.index(name)
            sheet.data_validation(
                1, col, last, col, {"ignore_blank": True, "show_error": True, **rule}
            )


def answer_csv(table: pd.DataFrame, *, language: str = "en") -> str:
    """``table`` as CSV text with a byte-order mark; ``;`` and decimal commas in French."""
    if language == "fr":
        money = table["annual_cost_usd"].str.replace(".", ",", regex=False)
        return "\ufeff" + csv_text(table.assign(annual_cost_usd=money), delimiter=";")
    return "\ufeff" + csv_text(table)
