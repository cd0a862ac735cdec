"""Worksheet tables as finance expects them: typed cells, frozen header, filter, sized columns.

Money cells are numbers formatted ``#,##0.00`` (exact decimals, never float
sums), counts ``#,##0``, dates ``yyyy-mm-dd``. Text is neutralized against
formula injection and stored as a string cell, which a spreadsheet never
evaluates. Tables are written in openpyxl's write-only (streaming) mode, so a
million rows do not need a million cell objects in memory; widths and the
frozen pane are set before the first row, as that mode requires.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import chain, islice
from typing import Any, Final

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from licensewatch.progress import Progress
from licensewatch.reports.csvsafe import neutralize

MONEY_FORMAT: Final = "#,##0.00"
COUNT_FORMAT: Final = "#,##0"
DATE_FORMAT: Final = "yyyy-mm-dd"
MAX_WIDTH: Final = 60
#: Data rows a worksheet can hold below its header (Excel's limit is 1,048,576 rows).
MAX_ROWS: Final = 1_048_575
#: Rows measured to size a column; a million findings need not all be measured.
WIDTH_SAMPLE: Final = 2000
_HEADER_FONT: Final = Font(bold=True, color="FFFFFF")
_HEADER_FILL: Final = PatternFill("solid", fgColor="2B6CB0")
#: Bold, for totals and labels that must stand out.
BOLD: Final = Font(bold=True)

#: The kinds of cell a column holds.
TEXT, COUNT, MONEY, DAY = "text", "count", "money", "date"


@dataclass(frozen=True)
class Column:
    """A table column: its header and the kind of value it holds."""

    header: str
    kind: str


def money(cents: int) -> Decimal:
    """Integer cents as an exact decimal number of dollars."""
    return Decimal(int(cents)).scaleb(-2)


def money_text(text: str) -> Decimal | None:
    """A CSV money string ("189.60") as a decimal; empty stays empty."""
    return Decimal(text) if text else None


def day_text(text: str) -> date | None:
    """A CSV date string ("2019-12-31") as a date; empty stays empty."""
    return date.fromisoformat(text) if text else None


def int_text(text: str) -> int | None:
    """A CSV whole number ("31") as an int; empty stays empty."""
    return int(text) if text else None


def _blank(value: object) -> bool:
    """None, or a pandas missing value (NA, NaT, NaN) that must not be written as "<NA>"."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def cell(ws: Any, value: object, kind: str, font: Font | None = None) -> WriteOnlyCell:
    """A write-only cell of ``value`` formatted for its ``kind``; text neutralized."""
    if _blank(value):
        value = None
    if kind == TEXT:
        text = neutralize("" if value is None else str(value))
        one = WriteOnlyCell(ws, value=text)
        # A string cell is never evaluated, whatever it starts with.
        one.data_type = "s"
    else:
        one = WriteOnlyCell(ws, value=value)
        one.number_format = {MONEY: MONEY_FORMAT, COUNT: COUNT_FORMAT, DAY: DATE_FORMAT}[kind]
    if font is not None:
        one.font = font
    return one


def _width(value: object, kind: str) -> int:
    if _blank(value):
        return 0
    if kind == MONEY:
        return len(f"{value:,.2f}")
    if kind == COUNT:
        return len(f"{value:,}")
    if kind == DAY:
        return 10
    return len(str(value))


def write_table(
    wb: Workbook,
    title: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence[object]],
    total: Sequence[object] | None = None,
    progress: Progress | None = None,
) -> int:
    """A sheet holding one table: header frozen, filter on its rows, an optional total below.

    Writes at most :data:`MAX_ROWS` rows (a worksheet's limit) and returns how many it wrote;
    ``progress`` counts the rows as they are written.
    """
    ws = wb.create_sheet(title)
    stream = iter(rows)
    sample = list(islice(stream, WIDTH_SAMPLE))
    for i, column in enumerate(columns, start=1):
        measured = [_width(row[i - 1], column.kind) for row in sample]
        if total is not None:
            measured.append(_width(total[i - 1], column.kind))
        widest = max([len(column.header), *measured])
        ws.column_dimensions[get_column_letter(i)].width = min(widest + 3, MAX_WIDTH)
    ws.freeze_panes = "A2"
    header = []
    for column in columns:
        title_cell = cell(ws, column.header, TEXT, _HEADER_FONT)
        title_cell.fill = _HEADER_FILL
        header.append(title_cell)
    ws.append(header)
    written = 0
    for row in islice(chain(sample, stream), MAX_ROWS):
        ws.append([cell(ws, v, c.kind) for v, c in zip(row, columns, strict=True)])
        written += 1
        if progress is not None:
            progress.advance()
    if progress is not None:
        progress.finish()
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{written + 1}"
    if total is not None:
        # Below a blank row, outside the filter range: sorting never moves it.
        ws.append([])
        ws.append(
            [
                None if v is None else cell(ws, v, c.kind, BOLD)
                for v, c in zip(total, columns, strict=True)
            ]
        )
    return written
