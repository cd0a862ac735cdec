"""A focal point's returned decisions file: read, checked and matched to the findings.

Each department's email carries the same rows twice, as an Excel workbook and
as a CSV file (:mod:`licensewatch.answers.answer_sheet`), with three
columns to fill: ``decision`` (``remove`` or ``keep``; French templates say
``supprimer`` or ``conserver``, which are read as the same), ``justification``
(why a resource is kept) and ``keep_until`` (until when). A workbook (``.xlsx``,
or any file that is one) is read from its first sheet; a CSV file comes back
the way Excel saved it: any encoding :mod:`~licensewatch.sources.tabular.text`
reads (and Windows-1252 when it is not UTF-8), ``,`` ``;`` or tab separated,
columns reordered, added or removed, blank rows. :func:`read_decisions` checks
every row against the findings the store knows and either returns the
decisions or raises one :class:`~licensewatch.errors.InputError` listing every
problem by file, row and column. It reads no database and no clock.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Final

import pandas as pd

from licensewatch import model
from licensewatch.errors import InputError, Problem
from licensewatch.reports.csvsafe import neutralize
from licensewatch.sources.options import TableOptions
from licensewatch.sources.tabular.dates import FORMATS, ISO, DateFormat, date_problem, parse_dates
from licensewatch.sources.tabular.table import (
    ProblemLog,
    TableSpec,
    check_grid,
    constant,
    read_table,
)
from licensewatch.sources.tabular.text import AUTO, decode
from licensewatch.sources.tabular.xlsx import load_sheet


class Decision(StrEnum):
    """What a focal point decided about a dormant resource."""

    REMOVE = "remove"
    KEEP = "keep"


#: The words a decision cell may hold (compared case-folded), French ones included.
WORDS: Final[dict[str, Decision]] = {
    "remove": Decision.REMOVE,
    "keep": Decision.KEEP,
    "supprimer": Decision.REMOVE,
    "conserver": Decision.KEEP,
}
#: The longest a keep may last in days: a calendar year (see :func:`latest_keep_until`).
MAX_KEEP_DAYS: Final = 366
#: A keep's justification needs at least this many letters or digits.
MIN_JUSTIFICATION: Final = 4
#: Justifications that say nothing (letters and digits only, case-folded).
PLACEHOLDERS: Final = frozenset(
    {"none", "null", "todo", "tbc", "tbd", "keep", "conserver", "pending", "unknown",
     "nothing", "same", "idem", "test", "xxxx", "aucun", "aucune", "neant", "néant"}
)  # fmt: skip
#: The command-line option that sets ``date_format``, named in date hints.
DATE_FORMAT_FLAG: Final = "--date-format"
#: What Excel's plain "CSV" writes on Western-European Windows; read when a file is not UTF-8.
LEGACY_ENCODING: Final = "cp1252"
#: The columns of the ``known`` frame :func:`read_decisions` matches rows against.
KNOWN_COLUMNS: Final = ("resource_id", "subject", "department", "status")
#: Decisions as :func:`read_decisions` returns them: one row per resource and file row.
DECISIONS: Final[model.Schema] = {
    "resource_id": model.STRING,
    "subject": model.STRING,
    "department": model.STRING,
    "decision": model.STRING,
    "justification": model.STRING,
    "keep_until": model.DATETIME,
    "row": model.INT,
}
_COLUMNS: Final = ("resource_id", "subject", "justification", "keep_until")
_WORD_VALUES: Final = {word: decision.value for word, decision in WORDS.items()}
_FRENCH: Final = "supprimer or conserver in French"
_WORKBOOK_SUFFIXES: Final = (".xlsx", ".xlsm")
_NUMERIC_DATE: Final = re.compile(r"\d{1,2}([/.-])\d{1,2}\1\d{4}")


def latest_keep_until(as_of: date) -> date:
    """The last day a keep decided on ``as_of`` may run to: the same day next year.

    29 February becomes 28 February of the next year.
    """
    try:
        return as_of.replace(year=as_of.year + 1)
    except ValueError:
        return date(as_of.year + 1, 2, 28)


def unescape(value: str) -> str:
    """``value`` without the quote :func:`~licensewatch.reports.csvsafe.neutralize` put on it.

    Only a quote that ``neutralize`` would have added is removed ("'=1+1" →
    "=1+1"); any other leading quote is the writer's own ("'tis", "'-12").
    """
    if value.startswith("'") and neutralize(value[1:]) == value:
        return value[1:]
    return value


def read_decisions(
    path: Path,
    *,
    department: str,
    known: pd.DataFrame,
    as_of: date,
    today: date | None = None,
    date_format: str = ISO,
    encoding: str = AUTO,
) -> pd.DataFrame:
    """The decisions ``department`` returned in the file at ``path``, checked (:data:`DECISIONS`).

    ``known`` holds the findings the store knows (:data:`KNOWN_COLUMNS`, one
    row per resource). The header needs ``decision`` and ``resource_id`` or
    ``subject``; ``justification`` and ``keep_until`` may be left out, other
    columns are ignored. A row with an empty decision is not answered yet and
    is skipped unchecked. ``remove``/``keep`` (French ``supprimer``/``conserver``)
    may be written in any case. A row names its resource by ``resource_id``
    or, when that is empty, by ``subject``: a subject's decision applies to each
    of its findings in ``department`` (those not yet removed, when it has any),
    one output row each with the same ``row``. A ``keep`` needs a justification
    and a ``keep_until`` from ``as_of`` to :func:`latest_keep_until` of ``today``
    (the day the decisions are recorded, by the caller's clock; ``as_of`` when
    not given), so that an ``as_of`` in the future cannot stretch a keep past a
    year from now; a ``remove`` has no ``keep_until``. A resource answered twice must be answered
    the same way (the first row is kept). ``date_format`` ("iso", "day-first"
    or "month-first") says how ``03/04/2027`` is read (ISO only by default);
    ``encoding`` "auto" reads a byte-order mark, else UTF-8, else Windows-1252.
    Text read back loses the quote the attachment put before formula-like cells
    (:func:`unescape`). The frame is sorted by row then resource_id.

    Raises :class:`InputError` listing every problem by file, row and column;
    ``ValueError`` for an unknown ``date_format`` or ``encoding`` or a ``known``
    frame that lacks a column.
    """
    day = date(as_of.year, as_of.month, as_of.day)
    now = day if today is None else date(today.year, today.month, today.day)
    order = _checked_options(date_format, encoding, known)
    log = ProblemLog(str(path))
    table = _read(path, encoding, order, log)
    if model.fold_key(department) not in _keys(known["department"]):
        raise _unknown_department(log.file, department, known)
    rows, words = _answered_rows(table, log)
    valid = words.notna() & _check_keep(rows, day, now, order, log)
    found = _resolve(rows, known, department, log)
    found = found.join(rows[["decision", "justification", "keep_until"]], on="row")
    found = found.loc[valid.reindex(found["row"]).to_numpy(dtype=bool)]
    found = found.drop_duplicates(["row", "resource_id"]).sort_values("row", kind="stable")
    _check_repeats(found, log)
    log.raise_if_any()
    found = found.drop_duplicates("resource_id").sort_values(["row", "resource_id"])
    return model.conform(found, DECISIONS)


def _read(path: Path, encoding: str, order: str, log: ProblemLog) -> pd.DataFrame:
    """The file's table: an Excel workbook's first sheet, or a CSV file."""
    if is_workbook(path):
        if path.suffix.casefold() not in _WORKBOOK_SUFFIXES:
            raise InputError.single(
                log.file, "is an Excel workbook saved under another name; rename it to .xlsx"
            )
        expected = "expected the answer workbook with a decision column"
        grid = load_sheet(path, sheet=None, label=log.file, expected=expected)
        spec = TableSpec(("decision",), _COLUMNS, any_of=("resource_id", "subject"))
        return check_grid(grid, spec, TableOptions(date_format=order), log)
    return read_table(
        path,
        required=("decision",),
        optional=_COLUMNS,
        any_of=("resource_id", "subject"),
        options=TableOptions(encoding=_encoding(path, encoding), date_format=order),
        problems=log,
    )


def is_workbook(path: Path) -> bool:
    """An .xlsx name, or a file that starts like a zip archive (a workbook renamed)."""
    if path.suffix.casefold() in _WORKBOOK_SUFFIXES:
        return True
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"PK\x03\x04"
    except OSError:
        return False  # read_table says what is wrong with the path


def _answered_rows(table: pd.DataFrame, log: ProblemLog) -> tuple[pd.DataFrame, pd.Series]:
    """The rows with a decision, the decision as its canonical word (NA: not a decision)."""
    rows = table.loc[table["decision"].notna()].copy()
    words = rows["decision"].str.casefold().map(_WORD_VALUES)
    log.add_rows(words.isna(), "decision", _not_a_decision(rows["decision"]))
    rows["decision"] = words.astype(model.STRING)
    rows["justification"] = rows["justification"].map(unescape, na_action="ignore")
    return rows, words


def _checked_options(date_format: str, encoding: str, known: pd.DataFrame) -> str:
    order = date_format.strip().casefold()
    if order not in FORMATS:
        raise ValueError(f"date_format must be one of {', '.join(FORMATS)}, not {date_format!r}")
    if encoding != AUTO:
        codecs.lookup(encoding)  # LookupError is a ValueError
    missing = [c for c in KNOWN_COLUMNS if c not in known.columns]
    if missing:
        raise ValueError(f"the known findings lack the columns {missing}")
    return order


def _encoding(path: Path, encoding: str) -> str:
    """``encoding``, or Windows-1252 for an "auto" file that is neither marked nor UTF-8."""
    if encoding != AUTO:
        return encoding
    try:
        data = path.read_bytes()
    except OSError:
        return AUTO  # read_table says what is wrong with the path
    try:
        decode(data, AUTO, str(path), hint="")
    except InputError:
        return LEGACY_ENCODING
    return AUTO


def _keys(values: pd.Series) -> list[str | None]:
    """Case-folded, stripped keys as a plain list (``None`` for missing)."""
    return [None if pd.isna(v) else str(v) for v in model.norm_key(values)]


def _unknown_department(file: str, department: str, known: pd.DataFrame) -> InputError:
    names = sorted({str(d) for d in known["department"].dropna()}, key=str.casefold)
    listed = ", ".join(names[:10]) + (", …" if len(names) > 10 else "")
    problem = Problem(
        file, f"no finding licensewatch reported belongs to department {department!r}"
    )
    hint = f"check the department: those with findings are {listed}" if names else None
    return InputError([problem], hint=hint or "licensewatch has reported no findings yet")


def _not_a_decision(values: pd.Series) -> Callable[[int], str]:
    return lambda row: f"{values[row]!r} is not a decision; write remove or keep ({_FRENCH})"


def _check_keep(
    rows: pd.DataFrame, as_of: date, today: date, order: str, log: ProblemLog
) -> pd.Series:
    """Check each row's justification and keep_until against its decision; the rows that pass.

    keep_until runs from ``as_of`` to a year after ``today`` (whatever ``as_of`` says).

    Leaves ``keep_until`` parsed (UTC midnight) on keep rows and missing elsewhere.
    """
    keep = rows["decision"].eq(Decision.KEEP.value).fillna(False).astype(bool)
    remove = rows["decision"].eq(Decision.REMOVE.value).fillna(False).astype(bool)
    text = rows["justification"]
    # An empty justification says nothing too (a list: an all-empty column maps to no type).
    says_nothing = [not isinstance(v, str) or _says_nothing(v) for v in text.tolist()]
    weak = keep & pd.Series(says_nothing, index=rows.index, dtype=bool)
    log.add_rows(weak, "justification", lambda row: _justification_problem(text[row]))
    raw = rows["keep_until"]
    parsed, unreadable = parse_dates(raw, DateFormat(order))
    last = latest_keep_until(today)
    since = " (today)" if today != as_of else ""
    checks: list[tuple[pd.Series, Callable[[int], str]]] = [
        (keep & raw.isna(), constant(f"a keep needs keep_until, a date from {as_of} to {last}")),
        (keep & unreadable, lambda row: _date_problem(str(raw[row]), order)),
        (
            keep & (parsed < pd.Timestamp(as_of, tz="UTC")),
            lambda row: f"keep_until {parsed[row]:%Y-%m-%d} is before {as_of}, the run date",
        ),
        (
            keep & (parsed > pd.Timestamp(last, tz="UTC")),
            lambda row: (
                f"keep_until {parsed[row]:%Y-%m-%d} is more than a year after "
                f"{today}{since}; the latest allowed is {last}"
            ),
        ),
        (remove & raw.notna(), constant("keep_until is only for keep; leave it empty for remove")),
    ]
    failed = weak
    for mask, message in checks:
        log.add_rows(mask, "keep_until", message)
        failed = failed | mask
    rows["keep_until"] = parsed.where(keep.to_numpy())
    return ~failed


def _says_nothing(text: str) -> bool:
    core = re.sub(r"[\W_]+", "", text.casefold())
    return len(core) < MIN_JUSTIFICATION or core in PLACEHOLDERS


def _justification_problem(text: object) -> str:
    why = "say why the resource is still needed"
    if isinstance(text, str):
        return f"{text!r} is not a justification: {why}"
    return f"a keep needs a justification: {why}"


def _date_problem(value: str, order: str) -> str:
    if order == ISO and _NUMERIC_DATE.fullmatch(value.strip()):
        return (
            f"{value!r} is not a date like 2027-12-31; to read it as day/month/year pass "
            f"{DATE_FORMAT_FLAG} day-first (month/day/year: month-first)"
        )
    return date_problem(value, DateFormat(order))


def _resolve(
    rows: pd.DataFrame, known: pd.DataFrame, department: str, log: ProblemLog
) -> pd.DataFrame:
    """Each answered row's findings in ``department``: ``row`` plus the known columns."""
    ids, subjects, departments = (_keys(known[c]) for c in ("resource_id", "subject", "department"))
    removed = [s == model.FindingStatus.REMOVED.value for s in _keys(known["status"])]
    by_id: dict[str, list[int]] = {}
    by_subject: dict[str, list[int]] = {}
    for i, (rid, subject) in enumerate(zip(ids, subjects, strict=True)):
        if rid is not None:
            by_id.setdefault(rid, []).append(i)
        if subject is not None:
            by_subject.setdefault(subject, []).append(i)
    here = model.fold_key(department)
    matches: list[tuple[int, int]] = []
    for row, rid, subject in zip(
        rows.index.tolist(), rows["resource_id"], rows["subject"], strict=True
    ):
        if not pd.isna(rid):
            column, value = "resource_id", str(rid)
            hits = by_id.get(_key(value), [])
            if hits and not pd.isna(subject) and _key(str(subject)) != subjects[hits[0]]:
                stored = known["subject"].iloc[hits[0]]
                log.add(
                    f"resource_id {value!r} is the finding of {stored!r}, not of {subject!r} "
                    "(sorting one column alone mixes rows up)",
                    row,
                    "subject",
                )
                continue
        elif not pd.isna(subject):
            column, value = "subject", str(subject)
            hits = by_subject.get(_key(value), [])
        else:
            log.add("neither resource_id nor subject is given; one is needed", row)
            continue
        if not hits:
            message = f"unknown {column} {value!r} (not a finding licensewatch reported)"
            log.add(message, row, column)
            continue
        ours = [i for i in hits if departments[i] == here]
        if not ours:
            theirs = sorted({str(known["department"].iloc[i]) for i in hits}, key=str.casefold)
            where = " and ".join(theirs)
            log.add(
                f"{column} {value!r} belongs to department {where}, not {department}", row, column
            )
            continue
        if column == "subject":
            ours = [i for i in ours if not removed[i]] or ours
        matches.extend((row, i) for i in ours)
    positions = [i for _, i in matches]
    found = known.iloc[positions][["resource_id", "subject", "department"]].reset_index(drop=True)
    found.insert(0, "row", pd.Series([r for r, _ in matches], dtype=model.INT))
    return found


def _key(value: str) -> str:
    return model.fold_key(unescape(value.strip()))


def _check_repeats(found: pd.DataFrame, log: ProblemLog) -> None:
    """Report a resource answered differently in two rows, naming the earlier row."""
    first: dict[str, tuple[int, str, str]] = {}
    for row, rid, decision, until in zip(
        found["row"], found["resource_id"], found["decision"], found["keep_until"], strict=True
    ):
        said = str(decision) if pd.isna(until) else f"{decision} until {until:%Y-%m-%d}"
        if str(rid) not in first:
            first[str(rid)] = (int(row), str(decision), said)
            continue
        row0, decision0, said0 = first[str(rid)]
        if said != said0:
            log.add(
                f"{rid} is answered {said!r} here but {said0!r} in row {row0}",
                int(row),
                "decision" if decision != decision0 else "keep_until",
            )
