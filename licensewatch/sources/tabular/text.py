"""Text files as spreadsheets and ERP systems save them: encoding and delimiter, into a grid.

HR and reference files arrive as UTF-8 with or without a byte-order mark,
as UTF-16 (Excel's "Unicode text"), or in a legacy code page such as cp1252
that the config names; cells are separated by ",", ";" (Excel in much of
Europe) or a tab. :func:`load_grid` turns such a file into a :class:`Grid`:
the header cells and the data cells as text, indexed by the row number a
person sees in a spreadsheet (the header is row 1).

Every file is read within documented bounds, so that a broken export stops
the run with one line instead of exhausting memory: at most :data:`MAX_ROWS`
rows (Excel's own sheet limit), :data:`MAX_LINE_CHARS` characters per line
of a CSV file, and :data:`MAX_CELL_CHARS` characters per cell (Excel's own
cell limit). A CSV file is read in pieces and refused as soon as it crosses
a bound, before it is parsed.
"""

from __future__ import annotations

import codecs
import io
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from itertools import accumulate
from operator import xor
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
#: The most rows one file or sheet may have, its header row included (Excel's sheet limit).
MAX_ROWS: Final = 1_048_576
#: The most characters one line of a CSV file may have (1 Mi; line break not counted).
MAX_LINE_CHARS: Final = 1_048_576
#: The most characters one cell may hold (Excel's own cell limit).
MAX_CELL_CHARS: Final = 32_767
#: Bytes read from a CSV file at a time.
_CHUNK: Final = 1 << 20
#: A line break as pandas sees one: CR LF, LF or a lone CR.
_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")


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
    start, codec = _codec(data[:4], encoding)
    try:
        return data[start:].decode(codec)
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        raise _undecodable(label, codec, data[offset], offset, hint) from None


def _codec(head: bytes, encoding: str) -> tuple[int, str]:
    """(bytes to skip, codec) for a file starting with ``head`` (see :func:`decode`)."""
    data = head
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
    return start, codec


def _undecodable(label: str, codec: str, byte: int, offset: int, hint: str) -> InputError:
    return InputError(
        [Problem(label, f"is not {codec} text (undecodable byte {byte:#04x} at offset {offset})")],
        hint=hint,
    )


def _rows_ended(text: str, quoted: bool) -> tuple[int, bool]:
    """(rows ended in ``text``, inside quotes at its end), starting ``quoted`` or not.

    A row ends at a line break outside double quotes (a quoted cell may hold
    line breaks), so row numbers are those pandas and a spreadsheet give.
    """
    pieces = _LINE_BREAK.split(text)
    states = list(accumulate((p.count('"') & 1 for p in pieces), xor, initial=int(quoted)))
    return states[1:-1].count(0), bool(states[-1])


class _Reader:
    """Collects the text of a CSV file fed piece by piece, refusing it past a bound.

    Line lengths and line counts are taken in C (split, len, count). Rows are
    counted exactly, quotes considered, only where it matters: for the row of
    a line that is too long, and once the file has more lines than
    :data:`MAX_ROWS` (a quoted cell may span lines). The parsed rows are
    checked again (a stray quote inside an unquoted cell can fool the count).
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.parts: list[str] = []
        self._lines = 0
        self._line = 0
        self._carry = ""
        self._rows: int | None = None  # counted exactly once past MAX_ROWS lines
        self._quoted = False

    def feed(self, text: str) -> None:
        """Add ``text``, the next piece of the file; raises ``InputError`` past a bound."""
        text = self._carry + text
        self._carry = ""
        if text.endswith("\r"):
            # CR LF may be split between two pieces.
            self._carry, text = "\r", text[:-1]
        # LF (CR LF) line breaks, or CR alone in a file from an old Mac.
        sep = "\n" if "\n" in text or "\r" not in text else "\r"
        pieces = text.split(sep)
        longest = max(self._line + len(pieces[0]), max(map(len, pieces[1:]), default=0))
        if longest > MAX_LINE_CHARS:
            self._too_long(pieces, sep)
        self._line = len(pieces[-1]) + (self._line if len(pieces) == 1 else 0)
        self._lines += len(pieces) - 1
        if self._rows is not None:
            ended, self._quoted = _rows_ended(text, self._quoted)
            self._rows += ended
        elif self._lines > MAX_ROWS:
            self._rows, self._quoted = _rows_ended("".join(self.parts) + text, False)
        self.parts.append(text)
        self._check()

    def text(self) -> str:
        """All the text fed, once the file has been read to its end."""
        return "".join(self.parts) + self._carry

    def _too_long(self, pieces: list[str], sep: str) -> None:
        lengths = [self._line + len(pieces[0]), *map(len, pieces[1:])]
        at = next(i for i, n in enumerate(lengths) if n > MAX_LINE_CHARS)
        before = "".join(self.parts) + "".join(piece + sep for piece in pieces[:at])
        rows, _ = _rows_ended(before, False)
        raise InputError.single(
            self.label,
            f"has a line longer than {MAX_LINE_CHARS:,} characters, the most one line may "
            "hold: is it a CSV file?",
            row=rows + 1,
        )

    def _check(self) -> None:
        if self._rows is not None and self._rows > MAX_ROWS:
            raise too_many_rows(self.label)
        if self._lines > 2 * MAX_ROWS:
            raise InputError.single(
                self.label, f"has more than {2 * MAX_ROWS:,} lines, the most one file may have"
            )


def too_many_rows(label: str) -> InputError:
    """The error for a file or sheet with more than :data:`MAX_ROWS` rows."""
    return InputError.single(
        label, f"has more than {MAX_ROWS:,} rows, the most one file may have", row=MAX_ROWS + 1
    )


def read_text(path: Path, encoding: str, label: str, hint: str) -> str:
    """The text of the file at ``path``, decoded as :func:`decode` does, read within bounds.

    The file is read and decoded a piece at a time; a line longer than
    :data:`MAX_LINE_CHARS` or a row past :data:`MAX_ROWS` raises
    :class:`InputError` naming the row, before the rest is read. ``OSError``
    is left to the caller.
    """
    with path.open("rb") as file:
        start, codec = _codec(file.read(4), encoding)
        file.seek(start)
        decoder = codecs.getincrementaldecoder(codec)()
        reader = _Reader(label)
        offset = start
        while True:
            chunk = file.read(_CHUNK)
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                at = offset - pending + exc.start
                raise _undecodable(label, codec, exc.object[exc.start], at, hint) from None
            offset += len(chunk)
            reader.feed(text)
            if not chunk:
                break
    return reader.text()


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
    than the header, a line or a file past the bounds (:func:`read_text`)
    raise :class:`InputError` naming the row.
    """
    try:
        text = read_text(path, encoding, label, hint)
    except FileNotFoundError:
        raise InputError.single(label, f"the file does not exist; {expected}") from None
    except IsADirectoryError:
        raise InputError.single(label, f"is a folder, not a file; {expected}") from None
    except OSError as exc:
        raise InputError.single(label, f"cannot be read: {exc.strerror}") from None
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
    if len(raw) > MAX_ROWS:
        raise too_many_rows(label)
    names = [str(h) for h in raw.iloc[0].fillna("")]
    cells = raw.iloc[1:].fillna("")
    cells.index = cells.index + 1  # raw index 0 is the header, spreadsheet row 1
    cells.columns = pd.RangeIndex(len(names))
    return Grid(names, cells)
