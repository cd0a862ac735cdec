"""A sheet's data rows written as SpreadsheetML text, then put into the workbook XlsxWriter wrote.

XlsxWriter spends about 10 µs of Python on a cell (argument checks, a cell
object, its XML through several layers); a night with a million accounts has
millions of cells in the finance workbook and the answer workbooks. The rows
of a table are all alike (one kind and one format a column), so this module
writes them itself as the XML XlsxWriter would write in its constant-memory
mode (inline strings, the same escapes, numbers as ``%.16G``), about ten
times faster, into a spool (memory, then a temporary file past a few MB).

XlsxWriter still writes everything else: the header and total rows, the
formats, widths, frozen pane, filter, validations and protection. When it
has closed the workbook, :func:`splice` copies the package and puts each
spool's rows into its sheet after the rows above them (the header), with the
sheet's ``<dimension>`` widened to cover them.
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Final

from xlsxwriter.format import Format
from xlsxwriter.utility import xl_cell_to_rowcol, xl_col_to_name, xl_rowcol_to_cell

#: A column's cell: the XML after ``<c r="A2"`` for a value, or None to leave the cell out.
CellXml = Callable[[object], "str | None"]
#: Rows a worksheet has (Excel's limit).
SHEET_ROWS: Final = 1_048_576
#: The most UTF-16 units of text a cell holds (Excel's limit).
STRING_MAX: Final = 32767
#: Bytes of rows kept in memory before the spool moves to a temporary file.
SPOOL_MEMORY: Final = 8 * 1024 * 1024
#: Part sizes from which a spliced sheet is written with ZIP64 headers.
_ZIP64_FROM: Final = 1 << 30
#: Rows joined before they are written to the spool.
_BATCH: Final = 2000
# What needs more than copying: XML's specials, the control characters and
# non-characters Excel writes as _xHHHH_, and a literal _xHHHH_ (escaped in turn).
_SPECIAL: Final = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_")
_LITERAL_ESCAPE: Final = re.compile(r"(_x[0-9a-fA-F]{4}_)")
_CONTROL: Final = re.compile(r"([\x00-\x08\x0b-\x1f])")
_DIMENSION: Final = re.compile(r'<dimension ref="([A-Z]+[0-9]+)(?::([A-Z]+[0-9]+))?"/>')
_ROW_NUMBER: Final = re.compile(r'<row r="([0-9]+)"')


def xf_index(fmt: Format | None) -> int | None:
    """The index of ``fmt`` in the workbook's cell formats (what a cell's ``s`` attribute holds).

    XlsxWriter numbers a format the first time a cell using it is written
    (``Format._get_xf_index``); asking here, before any row is written, gives
    the format its number and makes XlsxWriter write it to the styles part.
    """
    return None if fmt is None else int(fmt._get_xf_index())


def _style(fmt: Format | None) -> str:
    index = xf_index(fmt)
    return "" if index is None else f' s="{index}"'


def escape_text(text: str) -> str:
    """``text`` as the content of a cell's ``<t>``, escaped as XlsxWriter escapes it."""
    if _SPECIAL.search(text) is None:
        return text
    text = _LITERAL_ESCAPE.sub(r"_x005F\1", text)
    text = _CONTROL.sub(lambda match: f"_x{ord(match.group(1)):04X}_", text)
    text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def excel_text(text: str) -> str:
    """``text`` cut to the 32,767 UTF-16 units a cell holds, as XlsxWriter cuts it.

    A character beyond U+FFFF (an emoji) counts two and is never split.
    """
    if len(text) <= STRING_MAX // 2:  # fits whatever its characters
        return text
    if len(text.encode("utf-16-le", "surrogatepass")) <= 2 * STRING_MAX:
        return text
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > STRING_MAX:
            return text[:index]
    return text


def text_cell(fmt: Format | None) -> Callable[[str], str]:
    """The XML of a string cell (never evaluated, whatever it starts with) in ``fmt``.

    Longer text than a cell holds is cut (:func:`excel_text`), as XlsxWriter does.
    """
    head = _style(fmt) + ' t="inlineStr"><is><t'

    def cell(text: str) -> str:
        text = escape_text(excel_text(text))
        # Leading or trailing white space is kept only when the cell says so.
        space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
        return f"{head}{space}>{text}</t></is></c>"

    return cell


def number_cell(fmt: Format | None) -> Callable[[float], str]:
    """The XML of a number cell in ``fmt``; NaN and infinity are refused, as XlsxWriter does."""
    head = _style(fmt) + "><v>"

    def cell(number: float) -> str:
        if not math.isfinite(number):
            raise TypeError(f"not a finite number: {number!r}")
        return f"{head}{number:.16G}</v></c>"

    return cell


def blank_cell(fmt: Format | None) -> str | None:
    """The XML of an empty cell in ``fmt``; None (no cell at all) without a format."""
    return None if fmt is None else _style(fmt) + "/>"


class Rows:
    """The data rows of one sheet, from 0-based row ``first_row`` down, spooled as XML."""

    def __init__(self, sheet_number: int, first_row: int, cells: Sequence[CellXml]) -> None:
        #: The sheet's part in the package, ``xl/worksheets/sheetN.xml``.
        self.part = f"xl/worksheets/sheet{sheet_number}.xml"
        self.first_row = first_row
        self.count = 0
        self._cells = [(xl_col_to_name(i), cell) for i, cell in enumerate(cells)]
        self._batch: list[str] = []
        # Closed by close(), once the rows are in the workbook (or it failed).
        self.spool: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=SPOOL_MEMORY
        )

    @property
    def columns(self) -> int:
        """How many columns a row has."""
        return len(self._cells)

    def add(self, values: Sequence[object]) -> None:
        """One more row; ``values`` has one value a column.

        A row past the sheet's last (1,048,576) is left out, as XlsxWriter leaves
        out a cell there; callers that can say so cut their rows first.
        """
        number = self.first_row + self.count + 1  # the XML's rows count from 1
        self.count += 1
        if number > SHEET_ROWS:
            return
        parts = [f'<row r="{number}">']
        for (letter, cell), value in zip(self._cells, values, strict=True):
            xml = cell(value)
            if xml is not None:
                parts.append(f'<c r="{letter}{number}"{xml}')
        if len(parts) > 1:  # a row without a cell is left out, as XlsxWriter leaves it
            parts.append("</row>")
            self._batch.append("".join(parts))
        if len(self._batch) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            self.spool.write("".join(self._batch).encode("utf-8"))
            self._batch.clear()

    def last_row(self) -> int:
        """The 0-based row of the last data row (the row above the first when there are none)."""
        return min(self.first_row + self.count, SHEET_ROWS) - 1

    def close(self) -> None:
        """Drop the spool."""
        self.spool.close()

    def size(self) -> int:
        """Bytes of XML spooled so far."""
        self._flush()
        return self.spool.tell()

    def write_into(self, sheet_xml: str, out: IO[bytes]) -> None:
        """``sheet_xml`` (what XlsxWriter wrote) to ``out`` with these rows in their place."""
        self._flush()
        head, tail = _split(sheet_xml, self.first_row + 1)
        if self.count:
            head = _widen(head, self.last_row(), self.columns - 1)
        out.write(head.encode("utf-8"))
        self.spool.seek(0)
        shutil.copyfileobj(self.spool, out, 1024 * 1024)
        out.write(tail.encode("utf-8"))


def _split(sheet_xml: str, number: int) -> tuple[str, str]:
    """``sheet_xml`` cut where the rows numbered ``number`` (1-based) and below go."""
    empty = sheet_xml.find("<sheetData/>")
    if empty >= 0:
        return sheet_xml[:empty] + "<sheetData>", "</sheetData>" + sheet_xml[empty + 12 :]
    start = sheet_xml.index("<sheetData>")
    for match in _ROW_NUMBER.finditer(sheet_xml, start):
        if int(match.group(1)) >= number:
            return sheet_xml[: match.start()], sheet_xml[match.start() :]
    end = sheet_xml.index("</sheetData>", start)
    return sheet_xml[:end], sheet_xml[end:]


def _widen(head: str, last_row: int, last_col: int) -> str:
    """``head`` with its ``<dimension>`` covering (``last_row``, ``last_col``) too."""
    match = _DIMENSION.search(head)
    if match is None:
        return head
    first = match.group(1)
    end_row, end_col = xl_cell_to_rowcol(match.group(2) or first)
    ref = f"{first}:{xl_rowcol_to_cell(max(end_row, last_row), max(end_col, last_col))}"
    return f'{head[: match.start()]}<dimension ref="{ref}"/>{head[match.end() :]}'


def splice_file(path: Path, rows: Sequence[Rows]) -> None:
    """The workbook at ``path`` rewritten with ``rows`` in their sheets (replaced at once)."""
    if not rows:
        return
    spliced = path.with_name(f".{path.name}.rows")
    try:
        with path.open("rb") as source, spliced.open("wb") as target:
            splice(source, target, {r.part: r for r in rows})
        os.replace(spliced, path)
    finally:
        spliced.unlink(missing_ok=True)
        for r in rows:
            r.close()


def splice_bytes(data: bytes, rows: Sequence[Rows]) -> bytes:
    """The workbook ``data`` with ``rows`` in their sheets."""
    if not rows:
        return data
    target = io.BytesIO()
    try:
        splice(io.BytesIO(data), target, {r.part: r for r in rows})
    finally:
        for r in rows:
            r.close()
    return target.getvalue()


def splice(source: IO[bytes], target: IO[bytes], rows: Mapping[str, Rows]) -> None:
    """The package in ``source`` copied to ``target`` with ``rows`` put into their sheets.

    Every part keeps its name, order, time stamp and compression; a sheet's
    XML is streamed from its spool, so a sheet of a million rows is never
    whole in memory.
    """
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", allowZip64=True) as zout:
        missing = sorted(set(rows) - set(zin.namelist()))
        if missing:  # rows for a sheet the workbook does not have would be lost
            raise RuntimeError(f"the workbook has no part {', '.join(missing)} for its rows")
        for info in zin.infolist():
            copy = zipfile.ZipInfo(info.filename, info.date_time)
            copy.compress_type = info.compress_type
            copy.external_attr = info.external_attr
            spliced = rows.get(info.filename)
            if spliced is None:
                zout.writestr(copy, zin.read(info))
                continue
            # ZIP64 headers only for a part that could pass the 2 GiB of plain ZIP.
            big = spliced.size() + info.file_size > _ZIP64_FROM
            with zout.open(copy, "w", force_zip64=big) as out:
                spliced.write_into(zin.read(info).decode("utf-8"), out)
