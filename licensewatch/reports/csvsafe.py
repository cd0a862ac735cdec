"""CSV that a spreadsheet opens without running anything, written atomically.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
is read by Excel and LibreOffice as a formula; a display name such as
``=HYPERLINK("http://evil", "click")`` would run when a focal point opens the
attachment (OWASP "CSV injection"). Such cells get a leading single quote,
which spreadsheets show as text. Values that are plain numbers ("-12.50") are
left alone: they are not formulas, and quoting them would turn amounts into text.

Files are plain UTF-8 (no byte-order mark), quoted as RFC 4180 says, with
"\\n" line endings.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import pandas as pd

from licensewatch.atomic import open_text

_TRIGGERS: Final = frozenset("=+-@\t\r")
_NUMBER: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# The csv module quotes a field only when it holds the delimiter, the quote or a character
# of the line terminator; with "\n" alone a bare "\r" inside a field would be written
# unquoted and split the record on reading. Writing "\r\n" and trimming the record's own
# terminator gets RFC 4180 quoting for both characters and "\n" line endings.
_WRITER_TERMINATOR: Final = "\r\n"


def neutralize(value: str) -> str:
    """``value`` made safe for a spreadsheet: formulas are prefixed with a single quote."""
    if value and value[0] in _TRIGGERS and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def _is_text(series: pd.Series) -> bool:
    return bool(pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series))


def _cells(series: pd.Series) -> list[str]:
    """One column as the strings written to the file; missing values are empty cells."""
    if pd.api.types.is_datetime64_any_dtype(series):
        text = series.dt.strftime("%Y-%m-%dT%H:%M:%SZ" if series.dt.tz else "%Y-%m-%dT%H:%M:%S")
    else:
        text = series.astype("string")
    values: list[str] = text.fillna("").tolist()
    if _is_text(series):
        # neutralize() inlined: this runs once per cell of reports with a million rows.
        fullmatch = _NUMBER.fullmatch
        return ["'" + v if v and v[0] in _TRIGGERS and not fullmatch(v) else v for v in values]
    return values


#: Rows turned into text at a time: a million-row report's cells are not all
#: Python strings at once (at 1M accounts, 200,000 findings by 16 columns held
#: about 250 MB as text).
CHUNK_ROWS: Final = 20_000


def _rows(frame: pd.DataFrame) -> Iterator[tuple[str, ...]]:
    """The records of ``frame``, made ``CHUNK_ROWS`` rows at a time."""
    for start in range(0, len(frame), CHUNK_ROWS):
        part = frame.iloc[start : start + CHUNK_ROWS]
        yield from zip(*[_cells(part[c]) for c in part.columns], strict=True)


class _LineFeedSink:
    """Receives the csv writer's records and ends each with "\\n" instead of "\\r\\n"."""

    def __init__(self, write: Callable[[str], object]) -> None:
        self._write = write

    def write(self, record: str) -> int:
        self._write(record[: -len(_WRITER_TERMINATOR)] + "\n")
        return len(record)


def _write_frame(frame: pd.DataFrame, write: Callable[[str], object], delimiter: str = ",") -> None:
    if frame.columns.has_duplicates:
        raise ValueError(f"duplicate column names: {list(frame.columns)}")
    writer = csv.writer(
        _LineFeedSink(write),
        delimiter=delimiter,
        lineterminator=_WRITER_TERMINATOR,
        quoting=csv.QUOTE_MINIMAL,
    )
    writer.writerow([neutralize(str(c)) for c in frame.columns])
    writer.writerows(_rows(frame))


def csv_text(frame: pd.DataFrame, delimiter: str = ",") -> str:
    """``frame`` as CSV text: header plus one record per row, text cells neutralized."""
    buffer = io.StringIO()
    _write_frame(frame, buffer.write, delimiter)
    return buffer.getvalue()


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` as CSV (see :func:`csv_text`), atomically.

    The rows go to a temporary file in the same folder, which is flushed to disk
    and renamed over ``path``: a reader sees the old file or the new one, never
    half of one. Text columns are neutralized; timestamps are written in ISO 8601.
    """
    with open_text(path, newline="") as fh:
        _write_frame(frame, fh.write)
