"""The outbox's table, its statuses and kinds, and the records read from and written to it.

What the statuses mean and how a message moves between them is told in
:mod:`licensewatch.store.outbox`, which re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Table,
    Text,
)
from sqlalchemy.ext.associationproxy import AssociationProxy, association_proxy
from sqlalchemy.orm import Mapped, mapped_column, relationship

from licensewatch.store.tables import Base, BigKey, UTCDateTime


class OutboxStatus(StrEnum):
    """Where a message is on its way out."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    PARTIAL = "partial"
    UNKNOWN = "unknown"


class MessageKind(StrEnum):
    """What a message is in the notification cycle."""

    NOTICE = "notice"
    REMINDER = "reminder"
    #: Per-department escalations of earlier versions (now: ``overdue`` + ``digest``).
    ESCALATION = "escalation"
    #: The answer to a focal point's reply (what was recorded or refused).
    CONFIRMATION = "confirmation"
    #: A subscription renewal for finance (``[finance] notify_to``; migration 0006).
    RENEWAL = "renewal"
    #: To the focal points: their items are past the deadline (and maybe escalated).
    OVERDUE = "overdue"
    #: To the steering committee: every overdue department in one message.
    DIGEST = "digest"


#: Longest wait between two attempts at a failed message.
MAX_BACKOFF: Final = timedelta(days=1)
#: Wait after the first failure; doubled after each further one.
FIRST_BACKOFF: Final = timedelta(hours=1)
#: Wait before a message whose outcome is unknown is sent again (it may have arrived).
UNKNOWN_GRACE: Final = timedelta(hours=6)
#: ``recipient_status`` value of an address the relay accepted.
ACCEPTED: Final = "accepted"
#: Statuses of a message some focal point or copy has not received yet (as far as we know).
UNDELIVERED: Final = (
    OutboxStatus.PENDING.value,
    OutboxStatus.SENDING.value,
    OutboxStatus.FAILED.value,
    OutboxStatus.PARTIAL.value,
    OutboxStatus.UNKNOWN.value,
)


class OutboxMessage(Base):
    """One message to one department's focal points (or to the escalation address)."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s.value}'" for s in OutboxStatus) + ")", name="status"
        ),
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{k.value}'" for k in MessageKind) + ")", name="kind"
        ),
        Index("ix_outbox_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(Text, unique=True)
    department: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    as_of: Mapped[date] = mapped_column(Date)
    run_id: Mapped[int | None] = mapped_column(Integer)
    recipients: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    resource_ids: Mapped[list[str]] = mapped_column(JSON)
    #: The message's bytes, in ``outbox_bodies`` (loaded when first read).
    body: Mapped[OutboxBody] = relationship(
        lazy="select", cascade="all, delete-orphan", passive_deletes=True
    )
    message: AssociationProxy[bytes] = association_proxy(
        "body", "message", creator=lambda message: OutboxBody(message=message)
    )
    status: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transport: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: Envelope address → ``accepted`` or the relay's refusal (``451 4.7.1 …``); migration 0004.
    recipient_status: Mapped[dict[str, str] | None] = mapped_column(JSON)
    #: When a To address (a focal point) first accepted the message.
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxBody(Base):
    """The RFC 5322 bytes of one outbox message, in a table of their own (migration 0011).

    A message's status changes two or three times a send, and SQLite writes a
    whole row again on every UPDATE: with its bytes in the row (some 3 MB a
    department at 1M accounts, attachments included), the 1M night's 39 sends
    wrote a quarter of a gigabyte and took 1.7 of their 2.2 s.

    Each body is deleted with its message (``ON DELETE CASCADE``). A later
    migration that alters ``outbox`` on SQLite (Alembic's batch mode builds the
    table again and drops the old one) would delete every body with it: it
    takes the foreign key off first, as migration 0011's downgrade does.
    """

    __tablename__ = "outbox_bodies"

    outbox_id: Mapped[int] = mapped_column(
        BigKey, ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True
    )
    message: Mapped[bytes] = mapped_column(LargeBinary)


OUTBOX: Final[Table] = Base.metadata.tables["outbox"]
OUTBOX_BODIES: Final[Table] = Base.metadata.tables["outbox_bodies"]


@dataclass(frozen=True)
class Queued:
    """A composed message to record: its key, where it goes and its bytes."""

    key: str
    department: str
    kind: MessageKind
    recipients: Sequence[str]
    subject: str
    resource_ids: Sequence[str]
    message: bytes


@dataclass(frozen=True)
class OutboxEntry:
    """One outbox row as read back (without its bytes, unless asked for)."""

    id: int
    key: str
    department: str
    kind: str
    as_of: date
    recipients: str
    subject: str
    status: str
    created_at: datetime
    attempts: int
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    sent_at: datetime | None
    transport: str | None
    last_error: str | None
    resource_ids: tuple[str, ...]
    recipient_status: tuple[tuple[str, str], ...] = ()
    delivered_at: datetime | None = None

    @classmethod
    def of(cls, row: OutboxMessage) -> OutboxEntry:
        """The entry of a mapped row."""
        return cls(
            id=row.id,
            key=row.key,
            department=row.department,
            kind=row.kind,
            as_of=row.as_of,
            recipients=row.recipients,
            subject=row.subject,
            status=row.status,
            created_at=row.created_at,
            attempts=row.attempts,
            last_attempt_at=row.last_attempt_at,
            next_attempt_at=row.next_attempt_at,
            sent_at=row.sent_at,
            transport=row.transport,
            last_error=row.last_error,
            resource_ids=tuple(row.resource_ids),
            recipient_status=tuple((row.recipient_status or {}).items()),
            delivered_at=row.delivered_at,
        )

    @property
    def label(self) -> str:
        """How an operator names it: ``Finance notice of 2019-12-31``."""
        return f"{self.department} {self.kind} of {self.as_of.isoformat()}"
