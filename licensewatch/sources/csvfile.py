"""Shared reading for file-based sources: options, problem collection, CSV tables, timestamps.

:func:`read_table` reads a CSV export or reference file into a frame of
nullable ``string`` columns (timestamps parsed to UTC), checking its header,
required cells, dates and unique keys. The happy path is vectorised; a
:class:`~licensewatch.errors.Problem` is built only for a bad row. Row numbers
are those a person sees in a spreadsheet: the header is row 1.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import pandas as pd

from licensewatch import model
from licensewatch.config import SourceSettings
from licensewatch.errors import ConfigError, InputError, Problem

#: At most this many problems are listed for one file.
CAP = 50
K = TypeVar("K")

# A full date has 10 characters; shorter text ("now", "today") would make pandas read the clock.
_SHORTEST_TIMESTAMP = 10
# Spreadsheet exports often write a date as "2019-12-31 00:00:00"; any other time is not a date.
_ISO_DATE = r"\d{4}-\d{2}-\d{2}(?:[T ]00:00(?::00(?:\.0+)?)?)?"


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
    lists them in file and row order.
    """

    def __init__(self, file: str) -> None:
        self.file = file
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
            self._items, key=lambda p: (natural_key(p.file), -1 if p.row is None else p.row)
        )
        if self._total > CAP:
            ordered = ordered[: CAP - 1]
            ordered.append(
                Problem(self.file, f"{self._total} problems in all; the first {CAP - 1} are listed")
            )
        raise InputError(ordered)


def check_options(
    settings: SourceSettings, allowed: Sequence[str], defaults: Mapping[str, str]
) -> dict[str, str]:
    """Reject unknown option keys and return the string options with their defaults filled in.

    ``allowed`` lists every option of the kind (``kind`` itself excepted); an
    option in ``defaults`` is optional, any other is required.
    """
    where = f"[sources.{settings.feed}]"
    valid = ", ".join(("kind", *allowed))
    unknown = sorted(set(settings.options) - set(allowed))
    if unknown:
        keys = ", ".join(repr(k) for k in unknown)
        raise ConfigError(
            f"unknown key{'s' if len(unknown) > 1 else ''} {keys} in {where} "
            f"(kind {settings.kind!r}); valid keys are: {valid}",
            hint=f"correct or remove the key in {where}",
        )
    out: dict[str, str] = {}
    for key in allowed:
        value = settings.options.get(key, defaults.get(key))
        if value is None:
            raise ConfigError(
                f"{where} (kind {settings.kind!r}) needs {key!r}",
                hint=f'add {key} = "..." to {where}',
            )
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where} {key} must be a non-empty string, not {value!r}")
        out[key] = value.strip()
    if "encoding" in out:
        try:
            codecs.lookup(out["encoding"])
        except LookupError:
            raise ConfigError(
                f"{where} encoding {out['encoding']!r} is not a known text encoding",
                hint='use "utf-8-sig" (UTF-8 with or without a byte-order mark)',
            ) from None
    return out


def parse_timestamps(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """ISO 8601 dates or date-times (``Z``/offset; naive means UTC) → UTC timestamps.

    Returns the parsed ``datetime64[us, UTC]`` series (NaT where empty or bad)
    and a boolean mask of the values that are present but not parseable.
    Text shorter than a full date is rejected before pandas sees it, so words
    like "now" never read the clock.
    """
    text = values.astype(model.STRING).str.strip()
    text = text.mask(text == "")
    candidates = text.where(text.str.len() >= _SHORTEST_TIMESTAMP)
    parsed = pd.to_datetime(candidates, format="ISO8601", utc=True, errors="coerce")
    parsed = parsed.astype(model.DATETIME)
    bad = text.notna().to_numpy(dtype=bool) & parsed.isna().to_numpy()
    if bad.any():
        # Lower-case "t"/"z" separators are valid ISO 8601 that pandas refuses; retry only those.
        retry = candidates[bad].str.upper()
        parsed[bad] = pd.to_datetime(retry, format="ISO8601", utc=True, errors="coerce")
        bad = text.notna().to_numpy(dtype=bool) & parsed.isna().to_numpy()
    return parsed, pd.Series(bad, index=values.index)


def parse_dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Calendar dates ("2019-12-31") → UTC midnight; returns parsed series and bad-value mask."""
    text = values.astype(model.STRING).str.strip()
    text = text.mask(text == "")
    looks_date = text.str.fullmatch(_ISO_DATE).fillna(False).astype(bool)
    parsed = pd.to_datetime(
        text.where(looks_date).str.slice(0, 10), format="%Y-%m-%d", utc=True, errors="coerce"
    ).astype(model.DATETIME)
    bad = text.notna().to_numpy(dtype=bool) & parsed.isna().to_numpy()
    return parsed, pd.Series(bad, index=values.index)


def _load(path: Path, encoding: str, label: str, columns: Sequence[str]) -> pd.DataFrame:
    expected = f"expected a CSV file with the header row: {', '.join(columns)}"
    try:
        raw = pd.read_csv(
            path,
            header=None,
            dtype=model.STRING,
            keep_default_na=False,
            skip_blank_lines=False,
            encoding=encoding,
        )
    except FileNotFoundError:
        raise InputError.single(label, f"the file does not exist; {expected}") from None
    except IsADirectoryError:
        raise InputError.single(label, f"is a folder, not a file; {expected}") from None
    except pd.errors.EmptyDataError:
        raise InputError.single(label, f"the file is empty; {expected}") from None
    except UnicodeDecodeError as exc:
        raise InputError(
            [Problem(label, f"is not {encoding} text (undecodable byte at offset {exc.start})")],
            hint="save the file as CSV UTF-8 and run again",
        ) from None
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found is None:
            raise InputError.single(label, f"is not a readable CSV file: {exc}") from None
        header, line, saw = (int(g) for g in found.groups())
        raise InputError.single(
            label, f"has {saw} cells but the header has {header} columns", row=line
        ) from None
    except OSError as exc:
        raise InputError.single(label, f"cannot be read: {exc.strerror}") from None
    return raw


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
    encoding: str = "utf-8-sig",
    label: str | None = None,
    problems: ProblemLog | None = None,
) -> pd.DataFrame:
    """Read the CSV at ``path`` into a frame of ``required`` + ``optional`` columns.

    Header names are compared case-folded and stripped; other columns are
    ignored; an absent optional column comes back all-NA. Cells are stripped
    text (``string`` dtype, empty → NA; "NA" stays "NA"); ``dates`` become UTC
    midnight and ``timestamps`` UTC instants (``datetime64[us, UTC]``).
    ``nonempty`` cells must hold a value; ``unique`` is a column whose values
    may not repeat (case-folded); at least one of the ``any_of`` columns must
    be in the header. Blank lines are skipped. The frame's index
    is the spreadsheet row number of each row.

    A missing file or column raises :class:`InputError` at once. Row problems
    are added to ``problems`` when given (the caller adds its own and raises),
    else raised here. ``label`` names the file in messages (default: ``path``).
    """
    log = problems if problems is not None else ProblemLog(label or str(path))
    columns = [*required, *optional]
    raw = _load(path, encoding, log.file, required)
    header = [str(h).strip().lstrip("\ufeff").strip().casefold() for h in raw.iloc[0].fillna("")]
    missing = [Problem(log.file, f"required column {c!r} is missing", 1, c) for c in required]
    missing = [p for p in missing if p.column not in header]
    if any_of and not set(any_of) & set(header):
        names = ", ".join(repr(c) for c in any_of)
        missing.append(
            Problem(log.file, f"needs at least one of the columns {names}", 1, any_of[0])
        )
    if missing:
        hint = None
        if len(header) == 1 and ";" in header[0]:
            hint = "the header looks ';'-separated: save the file as CSV with ',' separators"
        raise InputError(missing, hint=hint)
    for col in columns:
        if header.count(col) > 1:
            log.add(f"column {col!r} appears {header.count(col)} times", 1, col)
    data = raw.iloc[1:]
    data.index = data.index + 1  # raw index 0 is the header, spreadsheet row 1
    out = pd.DataFrame(index=data.index)
    for col in columns:
        if col in header:
            cells = data.iloc[:, header.index(col)].astype(model.STRING).str.strip()
            out[col] = cells.mask(cells == "")
        else:
            out[col] = pd.Series(pd.NA, index=data.index, dtype=model.STRING)
    out = out.loc[out.notna().any(axis=1)]
    for col in nonempty:
        log.add_rows(out[col].isna(), col, constant(f"{col} is empty; a value is required"))
    for col, parse, example in [(c, parse_dates, "a date like 2019-12-31") for c in dates] + [
        (c, parse_timestamps, "a date-time like 2019-12-31T08:30:00Z") for c in timestamps
    ]:
        text = out[col]
        parsed, bad = parse(text)
        log.add_rows(bad, col, not_a(text, example))
        out[col] = parsed
    if unique is not None:
        check_unique(out[unique], unique, log)
    if problems is None:
        log.raise_if_any()
    return out


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
