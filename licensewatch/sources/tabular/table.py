"""Shared reading for file-based sources: options, problem collection, tables, timestamps.

:func:`read_table` reads a CSV export or reference file into a frame of
nullable ``string`` columns (dates parsed to UTC), checking its header,
required cells, dates and unique keys; :func:`check_grid` does the same for a
table read some other way (a workbook sheet, a database query). The happy
path is vectorised; a :class:`~licensewatch.errors.Problem` is built only for
a bad row. Row numbers are those a person sees in a spreadsheet: the header
is row 1. A cell read may hold at most ``MAX_CELL_CHARS`` characters.
Decoding, delimiters and the bounds on rows and lines are in
:mod:`~licensewatch.sources.tabular.text`, date formats in
:mod:`~licensewatch.sources.tabular.dates`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pandas as pd

from licensewatch import model
from licensewatch.errors import InputError, Problem
from licensewatch.sources.options import TableOptions, header_key
from licensewatch.sources.options import check_options as check_options
from licensewatch.sources.options import table_options as table_options
from licensewatch.sources.tabular.dates import DateFormat, date_problem
from licensewatch.sources.tabular.dates import parse_dates as parse_dates
from licensewatch.sources.tabular.dates import parse_timestamps as parse_timestamps
from licensewatch.sources.tabular.text import MAX_CELL_CHARS, Grid, load_grid

#: At most this many problems are listed for one file.
CAP = 50
K = TypeVar("K")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders embedded numbers by value ("users_2" before "users_10")."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.casefold())
        for part in re.split(r"(\d+)", text)
        if part
    )


class ProblemLog:
    """The problems found in one input, collected so that all are reported at once.

    Keeps at most :data:`CAP` problems per check but counts them all; raising
    lists them in file and row order. ``shown`` maps canonical column names to
    the header the file itself uses (when the config renamed it), so that a
    message names the column the person sees.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.shown: dict[str, str] = {}
        self._items: list[Problem] = []
        self._total = 0

    def __len__(self) -> int:
        return self._total

    def add(
        self,
        message: str,
        row: int | None = None,
        column: str | None = None,
        file: str | None = None,
    ) -> None:
        """Record one problem (in this log's file unless ``file`` says otherwise)."""
        self._total += 1
        self._items.append(Problem(file=file or self.file, message=message, row=row, column=column))

    def add_each(self, keys: Sequence[K], make: Callable[[K], Problem]) -> None:
        """Record one problem per key, building only the first :data:`CAP` of them."""
        self._total += len(keys)
        self._items.extend(make(key) for key in keys[:CAP])

    def add_rows(self, mask: pd.Series, column: str, message: Callable[[int], str]) -> None:
        """Record a problem for every row (frame index = spreadsheet row) where ``mask`` is true."""
        flags = mask.to_numpy(dtype=bool, na_value=False)
        rows = [int(r) for r in mask.index[flags][:CAP]]
        self.add_each(rows, lambda row: Problem(self.file, message(row), row, column))
        self._total += int(flags.sum()) - len(rows)

    def raise_if_any(self) -> None:
        """Raise :class:`InputError` listing the problems, if there are any."""
        if not self._items:
            return
        ordered = sorted(
            (
                Problem(p.file, p.message, p.row, self.shown.get(p.column, p.column))
                if p.file == self.file and p.column is not None
                else p
                for p in self._items
            ),
            key=lambda p: (natural_key(p.file), -1 if p.row is None else p.row),
        )
        if self._total > CAP:
            ordered = ordered[: CAP - 1]
            ordered.append(
                Problem(self.file, f"{self._total} problems in all; the first {CAP - 1} are listed")
            )
        raise InputError(ordered)


@dataclass(frozen=True)
class TableSpec:
    """What a table must hold; see :func:`read_table` for the meaning of each field."""

    required: Sequence[str]
    optional: Sequence[str] = ()
    dates: Sequence[str] = ()
    timestamps: Sequence[str] = ()
    nonempty: Sequence[str] = ()
    unique: str | None = None
    any_of: Sequence[str] = ()
    #: (column, other): the column needs a value unless the other column has one.
    nonempty_unless: Sequence[tuple[str, str]] = ()
    #: False keeps the spaces around cell text (for reading back files the job wrote).
    strip: bool = True


def read_table(
    path: Path,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    dates: Sequence[str] = (),
    timestamps: Sequence[str] = (),
    nonempty: Sequence[str] = (),
    unique: str | None = None,
    any_of: Sequence[str] = (),
    nonempty_unless: Sequence[tuple[str, str]] = (),
    strip: bool = True,
    options: TableOptions | None = None,
    label: str | None = None,
    problems: ProblemLog | None = None,
) -> pd.DataFrame:
    """Read the CSV at ``path`` into a frame of ``required`` + ``optional`` columns.

    Header names are compared case-folded and stripped (after the renames of
    ``options.columns``); other columns are ignored; an absent optional column
    comes back all-NA. Cells are stripped text (``string`` dtype, empty → NA;
    "NA" stays "NA"; ``strip=False`` keeps surrounding spaces); ``dates``
    become UTC midnight and ``timestamps`` UTC instants. ``nonempty`` cells
    must hold a value (``nonempty_unless``: unless another column has one);
    ``unique`` is a column whose values may not repeat (case-folded); at least
    one of the ``any_of`` columns must be in the header. Blank rows are
    skipped. The frame's index is the spreadsheet row number of each row.
    ``options`` give the encoding and delimiter (default: detected) and the
    date format (default: ISO only).

    A missing file or column raises :class:`InputError` at once. Row problems
    are added to ``problems`` when given (the caller adds its own and raises),
    else raised here. ``label`` names the file in messages (default: ``path``).
    """
    opts = options or TableOptions()
    spec = TableSpec(
        required, optional, dates, timestamps, nonempty, unique, any_of, nonempty_unless, strip
    )
    log = problems if problems is not None else ProblemLog(label or str(path))
    hint = "save the file as CSV UTF-8 and run again"
    if opts.where is not None:
        hint = (
            f"save the file as CSV UTF-8, or set encoding in {opts.where} to the encoding it "
            'was saved in (e.g. "cp1252")'
        )
    grid = load_grid(
        path,
        encoding=opts.encoding,
        delimiter=opts.delimiter,
        label=log.file,
        expected=f"expected a CSV file with the header row: {', '.join(required)}",
        hint=hint,
    )
    table = check_grid(grid, spec, opts, log)
    if problems is None:
        log.raise_if_any()
    return table


def _missing_columns(
    header: list[str], row: int | None, spec: TableSpec, opts: TableOptions, log: ProblemLog
) -> InputError | None:
    renamed_from = {target: source for source, target in opts.columns.items()}
    missing: list[Problem] = []
    for c in spec.required:
        if c in header:
            continue
        if c in renamed_from:
            message = (
                f"required column {renamed_from[c]!r} is missing "
                f"({opts.where} columns reads it as {c!r})"
            )
            missing.append(Problem(log.file, message, row, renamed_from[c]))
        else:
            missing.append(Problem(log.file, f"required column {c!r} is missing", row, c))
    if spec.any_of and not set(spec.any_of) & set(header):
        names = ", ".join(repr(c) for c in spec.any_of)
        missing.append(
            Problem(log.file, f"needs at least one of the columns {names}", row, spec.any_of[0])
        )
    if not missing:
        return None
    hint = None
    if len(header) == 1 and (found := re.search(r"[;,\t|]", header[0])):
        hint = f"the header looks {found[0]!r}-separated: set delimiter"
        hint += f" in {opts.where}" if opts.where else ""
    return InputError(missing, hint=hint)


def check_grid(grid: Grid, spec: TableSpec, opts: TableOptions, log: ProblemLog) -> pd.DataFrame:
    """Check ``grid`` against ``spec`` and return its table (see :func:`read_table`).

    Missing columns raise :class:`InputError` at once; row problems go to ``log``.
    """
    header = [header_key(h) for h in grid.header]
    renames = {header_key(source): target for source, target in opts.columns.items()}
    for i, name in enumerate(header):
        if name in renames:
            log.shown[renames[name]] = grid.header[i].strip().lstrip("\ufeff")
            header[i] = renames[name]
    error = _missing_columns(header, grid.header_row, spec, opts, log)
    if error is not None:
        raise error
    columns = [*spec.required, *spec.optional]
    for col in columns:
        if header.count(col) > 1:
            log.add(f"column {col!r} appears {header.count(col)} times", grid.header_row, col)
    data = grid.cells
    out = pd.DataFrame(index=data.index)
    for col in columns:
        if col in header:
            cells = data.iloc[:, header.index(col)].astype(model.STRING)
            _check_cell_sizes(cells, col, log)
            cells = cells.str.strip() if spec.strip else cells
            out[col] = cells.mask(cells == "")
        else:
            out[col] = pd.Series(pd.NA, index=data.index, dtype=model.STRING)
    out = out.loc[~_blank_rows(data, out, strip=spec.strip)]
    empty = [(col, out[col].isna()) for col in spec.nonempty]
    empty += [(col, out[col].isna() & out[other].isna()) for col, other in spec.nonempty_unless]
    for col, mask in empty:
        name = log.shown.get(col, col)
        log.add_rows(mask, col, constant(f"{name} is empty; a value is required"))
    date_format = DateFormat(opts.date_format, opts.where)
    for col in (*spec.dates, *spec.timestamps):
        is_date = col in spec.dates
        text = out[col]
        parse = parse_dates if is_date else parse_timestamps
        parsed, bad = parse(text, date_format)
        log.add_rows(bad, col, _date_message(text, date_format, timestamp=not is_date))
        out[col] = parsed
    if spec.unique is not None:
        check_unique(out[spec.unique], spec.unique, log)
    return out


def _check_cell_sizes(cells: pd.Series, column: str, log: ProblemLog) -> None:
    """Report every cell longer than :data:`MAX_CELL_CHARS` (Excel's own cell limit)."""
    sizes = cells.str.len()
    log.add_rows(
        sizes > MAX_CELL_CHARS,
        column,
        lambda row: (
            f"the cell holds {int(sizes[row]):,} characters, more than {MAX_CELL_CHARS:,} "
            "(the most one cell may hold)"
        ),
    )


def _blank_rows(cells: pd.DataFrame, table: pd.DataFrame, *, strip: bool) -> pd.Series:
    """Rows with no text in any cell, the columns not read included (those are skipped)."""
    blank = table.isna().all(axis=1)
    if blank.any():
        text = cells.loc[blank].astype(model.STRING)
        rest = text.apply(lambda col: (col.str.strip() if strip else col) == "")
        blank.loc[blank] = rest.all(axis=1)
    return blank


def _date_message(values: pd.Series, fmt: DateFormat, *, timestamp: bool) -> Callable[[int], str]:
    return lambda row: date_problem(str(values[row]), fmt, timestamp=timestamp)


def constant(message: str) -> Callable[[int], str]:
    """A problem message that does not depend on the row."""
    return lambda _row: message


def not_a(values: pd.Series, expected: str) -> Callable[[int], str]:
    """A problem message quoting the bad cell: "'31/12/2019' is not a date like 2019-12-31"."""
    return lambda row: f"{values[row]!r} is not {expected}"


def check_unique(values: pd.Series, column: str, log: ProblemLog) -> None:
    """Report every repeat of a value (case-folded) in ``values``, naming the earlier row."""
    keys = model.norm_key(values)
    repeat = keys.duplicated(keep="first") & keys.notna()
    if not repeat.any():
        return
    present = keys.dropna()
    first_row = pd.Series(present.index, index=present.to_numpy()).groupby(level=0).first()
    log.add_rows(
        repeat,
        column,
        lambda row: f"duplicate {column} {values[row]!r}: also in row {int(first_row[keys[row]])}",
    )


def split_list(cell: object) -> list[str]:
    """A cell holding several values separated by ';' or ',' → the stripped, non-empty values."""
    if not isinstance(cell, str):
        return []
    return [part.strip() for part in re.split(r"[;,]", cell) if part.strip()]
