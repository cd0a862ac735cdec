"""Reading the answers mailbox: every reply judged, recorded and confirmed exactly once.

For each message waiting in the answers folder, oldest first:

1. if its Message-ID was handled before (a run that died after its commit and
   before the move), it is only moved where it belongs;
2. else it is judged (:mod:`~licensewatch.answers.judge`); in one transaction
   the accepted files' decisions are recorded (decided by the sender, with the
   reply's Message-ID and received time; a file already recorded is not
   recorded again), the reply is recorded as handled, and the answer to the
   sender is queued in the outbox; then the transaction commits;
3. then the message moves to the processed or rejected folder.

A crash between 2 and 3 leaves the message in the folder and its Message-ID
recorded: the next read only moves it. A crash inside 2 records nothing.
The answers are sent with the other emails, by the outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

import pandas as pd
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from licensewatch.answers.answer_file import read_decisions
from licensewatch.answers.confirmation import compose_confirmation
from licensewatch.answers.identity import identify
from licensewatch.answers.judge import Rules, Verdict, judge, rows_reader
from licensewatch.answers.mailbox.incoming import Incoming
from licensewatch.answers.mailbox.options import AnswersOptions
from licensewatch.config import MailSettings
from licensewatch.logs import get_logger
from licensewatch.store import outbox
from licensewatch.store.answer_messages import PROCESSED, REJECTED, handled, record_handled
from licensewatch.store.decisions import record_decisions, recorded_file
from licensewatch.store.state import annual_costs, decidable_findings

log = get_logger(__name__)


class Mailbox(Protocol):
    """What the loop needs of a mailbox reader (IMAP or Graph)."""

    def incoming(self, trusted_authserv_id: str | None) -> Iterator[Incoming]:
        """Every message waiting, parsed."""

    def move(self, ref: str, folder: str) -> None:
        """File one message into a folder."""


@dataclass
class ReadSummary:
    """What one read of the mailbox did."""

    processed: int = 0
    rejected: int = 0
    moved_again: int = 0
    decisions: int = 0
    departments: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One log line."""
        return (
            f"answers mailbox: {self.processed} replies recorded ({self.decisions} decisions"
            + (f" for {', '.join(self.departments)}" if self.departments else "")
            + f"), {self.rejected} rejected"
            + (f", {self.moved_again} handled earlier and filed now" if self.moved_again else "")
        )


def _costs(session: Session, verdict: Verdict) -> dict[str, int]:
    ids = [
        str(r) for f in verdict.files if f.decisions is not None for r in f.decisions["resource_id"]
    ]
    return annual_costs(session, ids) if ids else {}


def _language(focal_points: pd.DataFrame, sender: str, default: str) -> str:
    for _, row in focal_points.iterrows():
        for column in ("email", "cc", "delegates"):
            cell = row.get(column)
            if isinstance(cell, str) and sender in {a.strip().casefold() for a in cell.split(";")}:
                return str(row.get("language") or default)
    return default


def _record(
    session: Session, verdict: Verdict, *, now: datetime, imported_by: str
) -> tuple[int, set[str]]:
    """Record the accepted files and the reply; (decisions recorded, files recorded before)."""
    incoming = verdict.incoming
    recorded = 0
    before: set[str] = set()
    for f in verdict.files:
        if f.decisions is None or f.department is None:
            continue
        if recorded_file(session, f.digest, f.department) is not None:
            log.info("answers: %s for %s was recorded before; not again", f.filename, f.department)
            before.add(f.filename)
            continue
        recorded += record_decisions(
            session,
            f.decisions,
            decided_at=incoming.received_at,
            source_file=f.filename,
            imported_by=imported_by,
            decided_by=incoming.sender,
            source="mail",
            message_id=incoming.message_id,
            file_digest=f.digest,
        )
    refused = "; ".join(
        f"{f.filename}: {f.refused or f'{len(f.problems)} row problems'}"
        for f in verdict.files
        if not f.accepted
    )
    record_handled(
        session,
        message_id=incoming.message_id,
        sender=incoming.sender,
        received_at=incoming.received_at,
        handled_at=now,
        folder=verdict.folder,
        departments=verdict.departments,
        recorded=recorded,
        reason=verdict.reason or refused or None,
    )
    return recorded, before


@dataclass(frozen=True)
class Loop:
    """What handling a reply needs besides the reply and the session."""

    options: AnswersOptions
    mail: MailSettings
    focal_points: pd.DataFrame
    key: bytes
    as_of: date
    run_id: int | None
    clock: Callable[[], datetime]
    imported_by: str


def handle_reply(session: Session, incoming: Incoming, loop: Loop, summary: ReadSummary) -> str:
    """Judge, record and answer one reply in ``session`` (no commit); returns its folder path.

    A reply handled before (its Message-ID is recorded) is only filed again.
    """
    folders = {PROCESSED: loop.options.processed_folder, REJECTED: loop.options.rejected_folder}
    earlier = handled(session, incoming.message_id)
    if earlier is not None:
        summary.moved_again += 1
        return folders[earlier.folder]
    now = loop.clock()
    rules = Rules(
        focal_points=loop.focal_points,
        key=loop.key,
        require_authenticated=loop.options.require_authenticated,
        identify=identify,
        read_rows=rows_reader(
            decidable_findings(session), as_of=loop.as_of, today=now.date(), read=read_decisions
        ),
    )
    verdict = judge(incoming, rules)
    count, before = _record(session, verdict, now=now, imported_by=loop.imported_by)
    if incoming.sender:
        answer = compose_confirmation(
            verdict,
            recorded=count,
            already=before,
            mail=loop.mail,
            language=_language(loop.focal_points, incoming.sender, loop.mail.language),
            costs=_costs(session, verdict),
            now=now,
        )
        outbox.queue(session, [answer], as_of=loop.as_of, run_id=loop.run_id, now=now)
    _count(summary, verdict, count)
    return folders[verdict.folder]


def fetch_answers(engine: Engine, mailbox: Mailbox, loop: Loop) -> ReadSummary:
    """``answers fetch``: each reply handled and committed, then filed, one by one."""
    summary = ReadSummary()
    for incoming in mailbox.incoming(loop.options.trusted_authserv_id):
        with Session(engine) as session:
            folder = handle_reply(session, incoming, loop, summary)
            session.commit()
        mailbox.move(incoming.ref, folder)
    log.info("%s", summary.line())
    return summary


def read_in_run(
    session: Session, mailbox: Mailbox, loop: Loop
) -> tuple[ReadSummary, list[tuple[str, str]]]:
    """The run's read: replies handled in the run's transaction; (summary, (ref, folder) to file).

    The caller files them (:func:`file_replies`) once the run has committed: a
    run that fails records nothing and leaves every reply where it was.
    """
    summary = ReadSummary()
    to_file = []
    for incoming in mailbox.incoming(loop.options.trusted_authserv_id):
        to_file.append((incoming.ref, handle_reply(session, incoming, loop, summary)))
    log.info("%s", summary.line())
    return summary, to_file


def file_replies(mailbox: Mailbox, to_file: list[tuple[str, str]]) -> None:
    """Move each handled reply into its folder (after the commit that recorded it)."""
    for ref, folder in to_file:
        mailbox.move(ref, folder)


def _count(summary: ReadSummary, verdict: Verdict, recorded: int) -> None:
    if verdict.folder == PROCESSED:
        summary.processed += 1
    else:
        summary.rejected += 1
        log.warning(
            "answers: reply %s from %s rejected: %s",
            verdict.incoming.message_id,
            verdict.incoming.sender or "(no sender)",
            verdict.reason,
        )
    summary.decisions += recorded
    for department in verdict.departments:
        if department not in summary.departments:
            summary.departments.append(department)
