"""Excel workbooks (.xlsx) into a :class:`~licensewatch.sources.textfile.Grid`.

HR teams often hand over a workbook rather than a CSV file. The sheet is
read with openpyxl in read-only mode (a large sheet streams; formulas give
their cached values). Cells come back as the text a CSV export would hold:
Excel dates as ISO dates, whole numbers without ".0"; text dates stay text
and are parsed like a CSV file's.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from licensewatch import model
from licensewatch.errors import InputError
from licensewatch.sources.textfile import Grid, cell_text


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
    try:
        names = list(workbook.sheetnames)
        if sheet is not None and sheet not in names:
            raise InputError.single(
                label, f"the workbook has no sheet {sheet!r}; its sheets: {', '.join(names)}"
            )
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        # Some tools write a wrong sheet size; read-only mode would trust it and drop rows.
        worksheet.reset_dimensions()
        rows = _rows(worksheet)
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


def _rows(worksheet: Any) -> dict[int, list[str]]:
    """Sheet row number → the row's cells as text, for rows that hold anything."""
    out: dict[int, list[str]] = {}
    for number, row in enumerate(worksheet.iter_rows(), start=1):
        values = [cell_text(cell.value) for cell in row]
        while values and values[-1] == "":
            values.pop()
        if values:
            at = next((c.row for c in row if getattr(c, "row", None)), None)
            out[at or number] = values
    return out
