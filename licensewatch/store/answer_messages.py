"""The replies read from the answers mailbox: each handled once, whatever happens after.

A reply's row is written in the same transaction as the decisions it carried
and its confirmation in the outbox, before the message is moved out of the
answers folder. If the job dies between that commit and the move, the next
run finds the Message-ID here and only moves the message (to the folder
recorded): nothing is recorded or confirmed twice. Migration ``0009``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import CheckConstraint, Integer, Table, Text, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from licensewatch.store import _frames
from licensewatch.store.db import storage_operation
from licensewatch.store.tables import Base, UTCDateTime

PROCESSED: Final = "processed"
REJECTED: Final = "rejected"


class AnswerMessage(Base):
    """One reply of the answers mailbox and what became of it."""

    __tablename__ = "answer_messages"
    __table_args__ = (CheckConstraint("folder IN ('processed', 'rejected')", name="folder"),)

    message_id: Mapped[str] = mapped_column(Text, primary_key=True)
    sender: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    folder: Mapped[str] = mapped_column(Text)
    #: The departments whose files were recorded, ';'-separated (None: nothing recorded).
    departments: Mapped[str | None] = mapped_column(Text)
    recorded: Mapped[int] = mapped_column(Integer)
    #: Why it was rejected, or what was refused in it (one line).
    reason: Mapped[str | None] = mapped_column(Text)


ANSWER_MESSAGES: Final[Table] = Base.metadata.tables["answer_messages"]


@dataclass(frozen=True)
class Handled:
    """A reply already handled: where it belongs."""

    folder: str
    handled_at: datetime
    recorded: int


@storage_operation("read the handled replies")
def handled(session: Session, message_id: str) -> Handled | None:
    """What became of the reply ``message_id``, or None when it was never handled."""
    a = ANSWER_MESSAGES.c
    row = session.execute(
        select(a.folder, a.handled_at, a.recorded).where(a.message_id == message_id)
    ).first()
    return None if row is None else Handled(str(row[0]), row[1], int(row[2]))


@storage_operation("record a handled reply")
def record_handled(
    session: Session,
    *,
    message_id: str,
    sender: str,
    received_at: datetime,
    handled_at: datetime,
    folder: str,
    departments: list[str],
    recorded: int,
    reason: str | None,
) -> None:
    """Record that the reply ``message_id`` was handled (in the caller's transaction)."""
    if folder not in (PROCESSED, REJECTED):
        raise ValueError(f"folder must be {PROCESSED} or {REJECTED}, not {folder!r}")
    session.execute(
        insert(ANSWER_MESSAGES),
        {
            "message_id": message_id,
            "sender": sender,
            "received_at": _frames.aware_utc(received_at, "received_at"),
            "handled_at": _frames.aware_utc(handled_at, "handled_at"),
            "folder": folder,
            "departments": ";".join(departments) or None,
            "recorded": recorded,
            "reason": None if reason is None else reason[:2000],
        },
    )
