"""Worksheet tables as finance expects them: typed cells, frozen header, filter, sized columns.

Money cells are numbers formatted ``#,##0.00``, counts ``#,##0``, dates
``yyyy-mm-dd``. Text is neutralized against formula injection and stored as a
string cell, which a spreadsheet never evaluates. Workbooks are written by
XlsxWriter in its constant-memory mode (:class:`Book`): each row goes to disk
when the next one starts, so a million rows need neither a million cell
objects nor their XML in memory; widths and the frozen pane are set before the
first row. A table's data rows are written as XML by
:mod:`~licensewatch.reports.sheet_rows` (ten times faster than XlsxWriter's
cell by cell) and put into the sheet when the book closes. A table is a
:class:`Sheet` (title, columns, rows, optional total): a new sheet is one more
spec, a new column one more :class:`Column`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import chain, islice
from pathlib import Path
from typing import Final

import pandas as pd
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from licensewatch.reports.csvsafe import neutralize
from licensewatch.reports.sheet_rows import (
    CellXml,
    Rows,
    blank_cell,
    number_cell,
    splice_file,
    text_cell,
)

MONEY_FORMAT: Final = "#,##0.00"
COUNT_FORMAT: Final = "#,##0"
DATE_FORMAT: Final = "yyyy-mm-dd"
MAX_WIDTH: Final = 60
#: Data rows a worksheet can hold below its header (Excel's limit is 1,048,576 rows).
MAX_ROWS: Final = 1_048_575
#: Rows measured to size a column; a million findings need not all be measured.
WIDTH_SAMPLE: Final = 2000
#: A cell style: XlsxWriter format properties (font, fill, alignment), merged with the kind's.
Style = Mapping[str, object]
_HEADER: Final[Style] = {"bold": True, "font_color": "#FFFFFF", "bg_color": "#2B6CB0", "pattern": 1}
#: Bold, for totals and labels that must stand out.
BOLD: Final[Style] = {"bold": True}

#: The kinds of cell a column holds.
TEXT, COUNT, MONEY, DAY = "text", "count", "money", "date"
_NUMBER_FORMATS: Final = {MONEY: MONEY_FORMAT, COUNT: COUNT_FORMAT, DAY: DATE_FORMAT}

#: Writes one value at (row, column).
CellWriter = Callable[[int, int, object], None]


@dataclass(frozen=True)
class Column:
    """A table column: its header and the kind of value it holds."""

    header: str
    kind: str


@dataclass(frozen=True)
class Sheet:
    """One table of a workbook: its sheet title, columns, rows and an optional total row."""

    title: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[object]]
    total: Sequence[object] | None = None


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


#: Day 0 of Excel's 1900 date system (as counted since its 1900-02-29 that never was).
_EXCEL_EPOCH: Final = date(1899, 12, 30)


def _day_serial(value: object) -> int:
    """A date as the day number a spreadsheet stores (a UTC date-time: its UTC day)."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return (value - _EXCEL_EPOCH).days
    raise TypeError(f"not a date: {value!r}")


def _number(value: object) -> float:
    if isinstance(value, int | float | Decimal):
        return float(value)
    raise TypeError(f"not a number: {value!r}")


def _shown_text(value: object) -> str | None:
    """What a text cell shows: the value neutralized; None for a blank."""
    return None if _blank(value) else (neutralize(str(value)) or None)


def _shown_number(kind: str) -> Callable[[object], float | None]:
    """What a ``kind`` number cell holds for a value (None for a blank).

    A date is its day number, formatted as a date (what write_datetime stores).
    """
    if kind not in _NUMBER_FORMATS:
        raise ValueError(f"unknown cell kind {kind!r}")
    to = _day_serial if kind == DAY else _number
    return lambda value: None if _blank(value) else to(value)


class Book:
    """An XLSX workbook being written to ``path`` (constant memory), with its cell formats.

    Use as a context manager: the file is complete when the block ends.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        self._formats: dict[tuple[str, tuple[tuple[str, object], ...]], Format] = {}
        self._sheets: list[Worksheet] = []
        self._rows: list[Rows] = []

    def __enter__(self) -> Book:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.workbook.close()
        if exc_type is None:
            splice_file(self.path, self._rows)
        else:
            for rows in self._rows:
                rows.close()

    def sheet(self, title: str) -> Worksheet:
        """A new worksheet named ``title``."""
        ws = self.workbook.add_worksheet(title)
        self._sheets.append(ws)
        return ws

    def rows(self, ws: Worksheet, first_row: int, kinds: Sequence[str]) -> Rows:
        """The data rows of ``ws`` from ``first_row`` down, one ``kinds`` entry a column.

        They are written as XML (:mod:`licensewatch.reports.sheet_rows`), not
        cell by cell through XlsxWriter, and put into the sheet when the book
        closes; nothing else may be written to those rows.
        """
        rows = Rows(self._sheets.index(ws) + 1, first_row, [self._cell_xml(k) for k in kinds])
        self._rows.append(rows)
        return rows

    def _cell_xml(self, kind: str) -> CellXml:
        """What :meth:`writer` writes for a ``kind`` value, as a cell's XML."""
        fmt = self.format(kind)
        blank = blank_cell(fmt)
        if kind == TEXT:
            text = text_cell(fmt)

            def text_xml(value: object) -> str | None:
                shown = _shown_text(value)
                return blank if shown is None else text(shown)

            return text_xml
        number_of, number = _shown_number(kind), number_cell(fmt)

        def number_xml(value: object) -> str | None:
            shown = number_of(value)
            return blank if shown is None else number(shown)

        return number_xml

    def format(self, kind: str, style: Style | None = None) -> Format | None:
        """The (shared) format of a ``kind`` cell in ``style``; None for plain text."""
        key = (kind, tuple(sorted((style or {}).items())))
        if key == (TEXT, ()):
            return None
        if key not in self._formats:
            props = dict(style or {})
            if kind in _NUMBER_FORMATS:
                props["num_format"] = _NUMBER_FORMATS[kind]
            self._formats[key] = self.workbook.add_format(props)
        return self._formats[key]

    def writer(self, ws: Worksheet, kind: str, style: Style | None = None) -> CellWriter:
        """A function writing a ``kind`` value at (row, column) of ``ws``; blanks stay empty."""
        fmt = self.format(kind, style)
        if kind == TEXT:

            def text(row: int, col: int, value: object) -> None:
                shown = _shown_text(value)
                if shown is None:
                    ws.write_blank(row, col, None, fmt)
                else:
                    # write_string: a string cell, never evaluated, whatever it starts with.
                    ws.write_string(row, col, shown, fmt)

            return text
        number_of = _shown_number(kind)

        def other(row: int, col: int, value: object) -> None:
            number = number_of(value)
            if number is None:
                ws.write_blank(row, col, None, fmt)
            else:
                ws.write_number(row, col, number, fmt)

        return other

    def cell(
        self,
        ws: Worksheet,
        at: tuple[int, int],
        value: object,
        kind: str,
        style: Style | None = None,
    ) -> None:
        """One cell of ``value`` at ``at`` (row, column), formatted for its ``kind``."""
        self.writer(ws, kind, style)(at[0], at[1], value)


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


def write_sheets(book: Book, specs: Iterable[Sheet]) -> None:
    """Every table of ``specs``, one sheet each, in order."""
    for spec in specs:
        write_table(book, spec.title, spec.columns, spec.rows, spec.total)


def write_table(
    book: Book,
    title: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence[object]],
    total: Sequence[object] | None = None,
) -> int:
    """A sheet holding one table: header frozen, filter on its rows, an optional total below.

    Writes at most :data:`MAX_ROWS` rows (a worksheet's limit) and returns how many it wrote.
    """
    ws = book.sheet(title)
    stream = iter(rows)
    sample = list(islice(stream, WIDTH_SAMPLE))
    for i, column in enumerate(columns):
        measured = [_width(row[i], column.kind) for row in sample]
        if total is not None:
            measured.append(_width(total[i], column.kind))
        widest = max([len(column.header), *measured])
        ws.set_column(i, i, min(widest + 3, MAX_WIDTH))
    ws.freeze_panes(1, 0)
    header = book.writer(ws, TEXT, _HEADER)
    for i, column in enumerate(columns):
        header(0, i, column.header)
    data = book.rows(ws, 1, [c.kind for c in columns])
    for row in islice(chain(sample, stream), MAX_ROWS):
        data.add(row)
    written = data.count
    ws.autofilter(0, 0, written, len(columns) - 1)
    if total is not None:
        # Below a blank row, outside the filter range: sorting never moves it.
        for i, (value, column) in enumerate(zip(total, columns, strict=True)):
            if value is not None:
                book.cell(ws, (written + 2, i), value, column.kind, BOLD)
    return written
