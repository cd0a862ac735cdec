"""Excel workbooks (.xlsx) into a :class:`~licensewatch.sources.tabular.text.Grid`.

HR teams often hand over a workbook rather than a CSV file. The sheet is
read with openpyxl in read-only mode (a large sheet streams; formulas give
their cached values). Cells come back as the text a CSV export would hold:
Excel dates as ISO dates, whole numbers without ".0"; text dates stay text
and are parsed like a CSV file's.

A damaged workbook (say a cell pointing to a shared string that is not
there) is an input error naming the file, and the row and column when the
failure can be placed; any exception openpyxl raises while loading or reading
is turned into one. A sheet may have at most
:data:`~licensewatch.sources.tabular.text.MAX_ROWS` rows: its row elements are
counted in the XML before it is parsed, and reading stops there too.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any, Final

import pandas as pd
from openpyxl import load_workbook
from openpyxl.utils.cell import coordinate_to_tuple, get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from licensewatch import model
from licensewatch.errors import InputError
from licensewatch.sources.tabular import text as textfile
from licensewatch.sources.tabular.text import Grid, cell_text, too_many_rows


def sheet_label(path: Path, sheet: str | None) -> str:
    """How messages name a workbook's sheet: the path, plus the sheet when one is configured."""
    return str(path) if sheet is None else f"{path}, sheet {sheet!r}"


def load_sheet(path: Path, *, sheet: str | None, label: str, expected: str) -> Grid:
    """Read ``sheet`` (default: the first) of the workbook at ``path`` into a grid.

    The first row is the header (spreadsheet row 1); rows keep their sheet row
    numbers. A missing file, a file that is not a workbook or a missing sheet
    raises :class:`InputError`.
    """
    if not path.exists():
        raise InputError.single(label, f"the file does not exist; {expected}")
    if path.is_dir():
        raise InputError.single(label, f"is a folder, not a file; {expected}")
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError):
        raise InputError.single(label, f"is not an Excel workbook (.xlsx); {expected}") from None
    except OSError as exc:
        raise InputError.single(label, f"cannot be read: {exc.strerror}") from None
    except Exception as exc:  # openpyxl fails in many ways on a damaged file
        raise InputError.single(
            label, f"is a damaged workbook ({_reason(exc)}); {expected}"
        ) from None
    try:
        names = list(workbook.sheetnames)
        if sheet is not None and sheet not in names:
            raise InputError.single(
                label, f"the workbook has no sheet {sheet!r}; its sheets: {', '.join(names)}"
            )
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        # Some tools write a wrong sheet size; read-only mode would trust it and drop rows.
        worksheet.reset_dimensions()
        _count_rows(worksheet, label)
        rows = _rows(worksheet, label)
    finally:
        workbook.close()
    if not rows:
        raise InputError.single(label, f"the sheet is empty; {expected}")
    width = max(len(values) for values in rows.values())
    numbers = sorted(rows)
    table = [rows[n] + [""] * (width - len(rows[n])) for n in numbers]
    header = table[0] if numbers[0] == 1 else [""] * width
    data = [r for n, r in zip(numbers, table, strict=True) if n > 1]
    cells = pd.DataFrame(
        data, index=[n for n in numbers if n > 1], columns=range(width), dtype=model.STRING
    )
    return Grid(header, cells)


#: A row element in a sheet's XML, with or without a namespace prefix.
_ROW_TAG: Final = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")


def _count_rows(worksheet: Any, label: str) -> None:
    """Refuse a sheet with more than ``MAX_ROWS`` row elements before parsing it.

    A scan of the sheet's XML in pieces (a few seconds for millions of rows,
    constant memory), so that a far too large sheet is refused at once rather
    than after parsing a million rows. Skipped if openpyxl does not expose it.
    """
    opener = getattr(worksheet, "_get_source", None)
    if opener is None:
        return
    count, tail = 0, b""
    with opener() as source:
        while chunk := source.read(1 << 20):
            data = tail + chunk
            # Count only tags that end before the last 64 bytes; those are scanned again.
            cut = max(len(data) - 64, 0)
            count += sum(1 for m in _ROW_TAG.finditer(data) if m.start() < cut)
            tail = data[cut:]
            if count > textfile.MAX_ROWS:
                raise too_many_rows(label)
    count += len(_ROW_TAG.findall(tail))
    if count > textfile.MAX_ROWS:
        raise too_many_rows(label)


def _rows(worksheet: Any, label: str) -> dict[int, list[str]]:
    """Sheet row number → the row's cells as text, for rows that hold anything.

    Stops with :class:`InputError` past :data:`~licensewatch.sources.tabular.text.MAX_ROWS`
    rows, and turns any failure of openpyxl on a damaged sheet into one.
    """
    out: dict[int, list[str]] = {}
    number = 0
    try:
        for number, row in enumerate(worksheet.iter_rows(), start=1):
            at = next((c.row for c in row if getattr(c, "row", None)), None) or number
            if number > textfile.MAX_ROWS or at > textfile.MAX_ROWS:
                raise too_many_rows(label)
            values = [cell_text(cell.value) for cell in row]
            while values and values[-1] == "":
                values.pop()
            if values:
                out[at] = values
    except InputError:
        raise
    except Exception as exc:  # openpyxl fails in many ways on a damaged sheet
        row_at, column = _failed_cell(exc, out.get(1, []))
        after = f" after row {number}" if row_at is None and number else ""
        message = f"cannot be read{after}: the workbook is damaged ({_reason(exc)})"
        raise InputError.single(label, message, row_at, column) from None
    return out


def _reason(exc: BaseException) -> str:
    """An exception in a few words: its type and the first line of its message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _failed_cell(exc: BaseException, header: list[str]) -> tuple[int | None, str | None]:
    """(row, column) of the cell openpyxl was reading when it failed, when it can be told.

    openpyxl's cell parser holds the cell's reference ("B3") in a local
    variable; the traceback still has it. The column is named by the sheet's
    header when it has one there, else by its letter.
    """
    tb = exc.__traceback__
    coordinate = None
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "parse_cell":
            coordinate = tb.tb_frame.f_locals.get("coordinate")
        tb = tb.tb_next
    if not isinstance(coordinate, str):
        return None, None
    try:
        row, col = coordinate_to_tuple(coordinate)
    except (ValueError, TypeError):
        return None, None
    name = header[col - 1].strip() if col <= len(header) and row > 1 else ""
    return row, name or get_column_letter(col)
