"""Text files as spreadsheets and ERP systems save them: encoding and delimiter, into a grid.

HR and reference files arrive as UTF-8 with or without a byte-order mark,
as UTF-16 (Excel's "Unicode text"), or in a legacy code page such as cp1252
that the config names; cells are separated by ",", ";" (Excel in much of
Europe) or a tab. :func:`load_grid` turns such a file into a :class:`Grid`:
the header cells and the data cells as text, indexed by the row number a
person sees in a spreadsheet (the header is row 1).
"""

from __future__ import annotations

import codecs
import io
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Final

import pandas as pd

from licensewatch import model
from licensewatch.errors import ConfigError, InputError, Problem

#: Option value meaning "work it out from the file".
AUTO: Final = "auto"
#: Byte-order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE one).
_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
#: Delimiters tried when none is configured, in order of preference on a tie.
DELIMITERS: Final = (",", ";", "\t")
_DELIMITER_NAMES: Final = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}


@dataclass(frozen=True)
class Grid:
    """A table as read, before any column is interpreted.

    ``header`` holds the header cells as written; ``cells`` holds the data
    cells as text (``string`` dtype, empty cells as ""), its columns in header
    order (0, 1, …) and its index the row number each row has in the source.
    ``header_row`` is the header's own row number (``None`` when the header is
    not a row, as for a database query's column names).
    """

    header: list[str]
    cells: pd.DataFrame
    header_row: int | None = 1


def cell_text(value: object) -> str:
    """A typed cell (from a workbook or a database) as the text a CSV export would hold.

    Whole numbers lose their ".0" (employee numbers are often stored as
    numbers); a date-time at UTC midnight becomes a date; other date-times
    become ISO 8601 in UTC (naive ones are taken as UTC); missing (None, NaN) is "".
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return ""  # what pandas-made workbooks hold for a missing number
    if isinstance(value, float | Decimal):
        finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
        return str(int(value)) if finite and value == int(value) else str(value)
    if isinstance(value, datetime):
        utc = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        if utc.time() == time(0):
            return utc.date().isoformat()
        return utc.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def check_encoding(value: str, where: str) -> str:
    """A configured ``encoding`` option, checked: "auto" or a codec Python knows."""
    if value.casefold() == AUTO:
        return AUTO
    try:
        codecs.lookup(value)
    except LookupError:
        raise ConfigError(
            f"{where} encoding {value!r} is not a known text encoding",
            hint='use "auto" (UTF-8 or UTF-16, with or without a byte-order mark) or the '
            'code page the file was saved in, such as "cp1252"',
        ) from None
    return value


def check_delimiter(value: str, where: str) -> str:
    """A configured ``delimiter`` option, checked: "auto", one of , ; | or a tab (or its name)."""
    if value.casefold() == AUTO:
        return AUTO
    delimiter = _DELIMITER_NAMES.get(value.casefold(), value)
    if delimiter not in (*DELIMITERS, "|"):
        raise ConfigError(
            f"{where} delimiter {value!r} is not a cell separator",
            hint='use "auto", ",", ";", "|" or "tab"',
        )
    return delimiter


def decode(data: bytes, encoding: str, label: str, hint: str) -> str:
    """The text of a file's bytes.

    With ``encoding`` "auto", a byte-order mark says UTF-8, UTF-16 or UTF-32;
    UTF-16 without a mark is recognised by its zero bytes; anything else is
    read as UTF-8. A configured encoding wins (a UTF-8 mark is dropped).
    Undecodable bytes raise :class:`InputError` giving the byte's offset in
    the file.
    """
    start, codec = 0, encoding
    if encoding == AUTO:
        codec = "utf-8"
        for bom, name in _BOMS:
            if data.startswith(bom):
                start, codec = len(bom), name
                break
        else:
            # Excel's "Unicode text" always has a mark; other tools may leave it out.
            if len(data) >= 2 and data[0] != 0 and data[1] == 0:
                codec = "utf-16-le"
            elif len(data) >= 2 and data[0] == 0 and data[1] != 0:
                codec = "utf-16-be"
    elif codecs.lookup(encoding).name in ("utf-8", "utf-8-sig") and data.startswith(
        codecs.BOM_UTF8
    ):
        start, codec = len(codecs.BOM_UTF8), "utf-8"
    try:
        return data[start:].decode(codec)
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        raise InputError(
            [
                Problem(
                    label,
                    f"is not {codec} text (undecodable byte {data[offset]:#04x} at "
                    f"offset {offset})",
                )
            ],
            hint=hint,
        ) from None


def sniff_delimiter(text: str) -> str:
    """The delimiter the header row uses most (outside quotes); "," when it has none."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
        elif not quoted and char in "\r\n":
            break
    best = max(DELIMITERS, key=lambda d: counts[d])  # max keeps the first on a tie
    return best if counts[best] else ","


def load_grid(
    path: Path,
    *,
    encoding: str = AUTO,
    delimiter: str = AUTO,
    label: str,
    expected: str,
    hint: str = "save the file as CSV UTF-8 and run again",
) -> Grid:
    """Read the CSV file at ``path`` into a :class:`Grid`.

    ``expected`` says what the file should look like (used in the messages
    about a missing or empty file); ``hint`` how to fix an undecodable one.
    Quoted cells may hold delimiters and line breaks. A row with more cells
    than the header raises :class:`InputError` naming the row.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError.single(label, f"the file does not exist; {expected}") from None
    except IsADirectoryError:
        raise InputError.single(label, f"is a folder, not a file; {expected}") from None
    except OSError as exc:
        raise InputError.single(label, f"cannot be read: {exc.strerror}") from None
    text = decode(data, encoding, label, hint)
    sep = sniff_delimiter(text) if delimiter == AUTO else delimiter
    try:
        raw = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            dtype=model.STRING,
            keep_default_na=False,
            skip_blank_lines=False,
        )
    except pd.errors.EmptyDataError:
        raise InputError.single(label, f"the file is empty; {expected}") from None
    except pd.errors.ParserError as exc:
        # pandas counts records, so its "line" is the spreadsheet row even after quoted newlines.
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found is None:
            raise InputError.single(label, f"is not a readable CSV file: {exc}") from None
        header, line, saw = (int(g) for g in found.groups())
        raise InputError.single(
            label, f"has {saw} cells but the header has {header} columns", row=line
        ) from None
    names = [str(h) for h in raw.iloc[0].fillna("")]
    cells = raw.iloc[1:].fillna("")
    cells.index = cells.index + 1  # raw index 0 is the header, spreadsheet row 1
    cells.columns = pd.RangeIndex(len(names))
    return Grid(names, cells)
