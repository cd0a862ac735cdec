"""What a reply says, and whether it counts: the answer loop's checks, in order.

For one :class:`~licensewatch.answers.mailbox.incoming.Incoming` reply,
:func:`judge` decides (reading no database and no clock):

1. a reply that cannot be read, or has too many or too large attachments, is
   rejected with that reason;
2. a reply the organization's mail system did not authenticate is rejected
   (unless ``require_authenticated`` is off, for labs);
3. a reply with no answer file gets a short answer saying how to answer;
4. each answer file (XLSX or CSV, never a macro workbook or a zip bomb) must
   carry its department, its notice key and their MAC
   (:mod:`~licensewatch.answers.signature`): an edited, forwarded or foreign
   file is refused; the sender must be a focal point, cc or delegate of *that*
   department; then every row is checked as ``decisions import`` checks a file,
   all rows or none.

A reply with at least one accepted file is *processed*; one with none is
*rejected*. Either way the sender is told, row by row, what was recorded and
what was refused.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Final

import pandas as pd

from licensewatch.answers.entitlement import may_answer
from licensewatch.answers.mailbox.incoming import Attachment, Incoming
from licensewatch.answers.signature import verify
from licensewatch.answers.workbook_guard import xlsx_problem
from licensewatch.errors import InputError, Problem
from licensewatch.store.answer_messages import PROCESSED, REJECTED

_SAFE_NAME: Final = re.compile(r"[^A-Za-z0-9._-]+")

#: Reads the identity columns of a saved answer file: (department, notice key, mac) or raises.
Identify = Callable[[Path], tuple[str, str, str]]
#: Reads and checks the rows of a saved answer file for a department; raises InputError.
ReadRows = Callable[[Path, str], pd.DataFrame]


@dataclass(frozen=True)
class FileVerdict:
    """One attached answer file and what became of it."""

    filename: str
    department: str | None = None
    notice_key: str | None = None
    #: The checked decisions (``answer_file.DECISIONS``) when the file is accepted.
    decisions: pd.DataFrame | None = None
    #: Why the whole file was refused ("" when it was not).
    refused: str = ""
    #: Row-level problems (file, row, column, message) when the rows were refused.
    problems: tuple[Problem, ...] = ()
    #: SHA-256 of the file's bytes (the same file is recorded once).
    digest: str = ""

    @property
    def accepted(self) -> bool:
        """Whether the file's decisions are to be recorded."""
        return self.decisions is not None


@dataclass(frozen=True)
class Verdict:
    """What to do with one reply."""

    incoming: Incoming
    folder: str
    #: Why the whole reply was rejected ("" when its files were looked at).
    reason: str = ""
    files: tuple[FileVerdict, ...] = field(default_factory=tuple)
    #: True when the reply held no answer file at all (the answer says how to answer).
    no_answer_file: bool = False

    @property
    def recorded(self) -> int:
        """How many decisions the reply's accepted files carry."""
        return sum(len(f.decisions) for f in self.files if f.decisions is not None)

    @property
    def departments(self) -> list[str]:
        """The departments of the accepted files, in order, once each."""
        return list(dict.fromkeys(f.department for f in self.files if f.accepted and f.department))


@dataclass(frozen=True)
class Rules:
    """What :func:`judge` checks a reply against."""

    focal_points: pd.DataFrame
    key: bytes
    require_authenticated: bool
    identify: Identify
    read_rows: ReadRows


def judge(incoming: Incoming, rules: Rules) -> Verdict:
    """The verdict on one reply (see the module docstring)."""
    if incoming.problems:
        return Verdict(incoming, REJECTED, reason="; ".join(incoming.problems))
    if rules.require_authenticated and not incoming.authentication.authenticated:
        return Verdict(
            incoming,
            REJECTED,
            reason="the reply could not be authenticated as coming from inside the "
            f"organization: {incoming.authentication.reason}",
        )
    files = [a for a in incoming.attachments if a.is_answer_file or a.problem]
    if not files:
        return Verdict(
            incoming, REJECTED, reason="the reply has no answer file attached", no_answer_file=True
        )
    verdicts = tuple(_file(incoming.sender, attachment, rules) for attachment in files)
    folder = PROCESSED if any(v.accepted for v in verdicts) else REJECTED
    reason = "" if folder == PROCESSED else "no attached file could be recorded"
    return Verdict(incoming, folder, reason=reason, files=verdicts)


def _file(sender: str, attachment: Attachment, rules: Rules) -> FileVerdict:
    name = attachment.filename
    digest = hashlib.sha256(attachment.data).hexdigest()
    if attachment.problem:
        return FileVerdict(name, refused=attachment.problem, digest=digest)
    if name.lower().endswith(".xlsx"):
        problem = xlsx_problem(attachment.data)
        if problem:
            return FileVerdict(name, refused=problem, digest=digest)
    with tempfile.TemporaryDirectory(prefix="lw-answer-") as folder:
        path = Path(folder) / _safe_name(name)
        path.write_bytes(attachment.data)
        try:
            department, notice_key, mac = rules.identify(path)
        except InputError as exc:
            return FileVerdict(name, refused=_first(exc), digest=digest)
        if not verify(rules.key, department, notice_key, mac):
            return FileVerdict(
                name,
                department=department,
                refused="the file's department or notice key was changed, or it is not a file "
                "this job sent: reply with the file attached to your notice",
                digest=digest,
            )
        if not may_answer(sender, rules.focal_points, department):
            return FileVerdict(
                name,
                department=department,
                notice_key=notice_key,
                refused=f"{sender} may not answer for {department}: only its focal points, cc "
                "and delegates in focal_points.csv may",
                digest=digest,
            )
        try:
            decisions = rules.read_rows(path, department)
        except InputError as exc:
            problems = tuple(_renamed(p, name) for p in exc.problems)
            return FileVerdict(
                name,
                department=department,
                notice_key=notice_key,
                problems=problems,
                digest=digest,
            )
    return FileVerdict(
        name, department=department, notice_key=notice_key, decisions=decisions, digest=digest
    )


def _safe_name(name: str) -> str:
    """A file name for the temporary copy: no path, no odd characters, the suffix kept."""
    base = _SAFE_NAME.sub("_", Path(name).name)[-100:] or "answer"
    return base if base.lower().endswith((".xlsx", ".csv")) else base + ".csv"


def _renamed(problem: Problem, filename: str) -> Problem:
    """``problem`` naming the attachment as the sender named it, not the temporary copy."""
    return Problem(filename, problem.message, problem.row, problem.column)


def _first(exc: InputError) -> str:
    return exc.problems[0].message if exc.problems else exc.message


def rows_reader(
    known: pd.DataFrame, *, as_of: date, today: date, read: Callable[..., pd.DataFrame]
) -> ReadRows:
    """A :data:`ReadRows` over ``answer_file.read_decisions`` for the known findings."""

    def read_rows(path: Path, department: str) -> pd.DataFrame:
        return read(path, department=department, known=known, as_of=as_of, today=today)

    return read_rows
