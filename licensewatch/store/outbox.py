"""The email outbox (table ``outbox``): what must be sent, what was, what failed.

A message is recorded here, complete (its RFC 5322 bytes), in the run's
transaction, before anything is sent; delivery then happens message by
message, each state change committed on its own:

``pending`` → ``sending`` (committed just before the transport is called) →
``sent``; or → ``failed`` with a ``next_attempt_at`` (exponential backoff)
after which a later run tries again.

Delivery is tracked per recipient (``recipient_status``: each envelope
address and the relay's answer to it). A message is ``sent`` once every
recipient accepted it or refused it for good (5xx) and at least one To
address (a focal point) accepted it; ``delivered_at`` is when a To address
first did. A message a To address accepted while other recipients answered
4xx is ``partial``: a later attempt goes to those recipients only (the same
bytes, the same ``Message-ID``). When no To address accepted, every address
not yet accepted is tried again, 5xx ones included (the department was not
told; an operator may fix the mailbox in between).

``unknown``: the relay (or Graph) took the message but no answer came back
(a reply after ``timeout_s``, a 502/504): it may have been delivered. It is
sent again only after :data:`UNKNOWN_GRACE`, never within the same run (a
Graph transport first looks for it in the mailbox's Sent Items).

Each message has a stable ``key`` (department, kind, as-of date and the
resources it lists), unique in the table: queueing the same message again is a
no-op, so a re-run never sends anything twice. A message found ``sending`` was
interrupted in the middle of its hand-over; it is sent again with the same
``Message-ID`` (the only case where a recipient's mail system may see it twice,
and the case it deduplicates by ``Message-ID``). Migration ``0003`` creates
the table. Functions here flush; callers commit.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from email.utils import getaddresses
from typing import Any, Final

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from licensewatch.logs import redact
from licensewatch.store import _frames
from licensewatch.store.db import storage_operation
from licensewatch.store.outbox_table import (
    ACCEPTED,
    FIRST_BACKOFF,
    MAX_BACKOFF,
    OUTBOX,
    UNDELIVERED,
    UNKNOWN_GRACE,
    MessageKind,
    OutboxEntry,
    OutboxMessage,
    OutboxStatus,
    Queued,
)
from licensewatch.store.tables import RESOURCE_STATE

__all__ = [
    "ACCEPTED",
    "FIRST_BACKOFF",
    "MAX_BACKOFF",
    "OUTBOX",
    "UNDELIVERED",
    "UNKNOWN_GRACE",
    "MessageKind",
    "OutboxEntry",
    "OutboxMessage",
    "OutboxStatus",
    "Queued",
    "awaiting_delivery",
    "backoff",
    "counts",
    "due",
    "entries",
    "get",
    "mark_answered",
    "mark_failed",
    "mark_sending",
    "mark_sent",
    "mark_unknown",
    "queue",
    "still_to_send",
    "to_addresses",
    "undelivered",
]


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 1, 2, 4 … hours, at most a day."""
    if attempts < 1:
        raise ValueError("attempts counts from 1")
    wait: timedelta = FIRST_BACKOFF * (2 ** min(attempts - 1, 30))
    return min(wait, MAX_BACKOFF)


@storage_operation("queue the emails")
def queue(
    session: Session,
    messages: Sequence[Queued],
    *,
    as_of: date,
    run_id: int | None,
    now: datetime,
) -> list[str]:
    """Record ``messages`` as pending; returns the keys that were new.

    A key already in the outbox (whatever its status) is left as it is: the
    same message is never queued, nor sent, twice. ``run_id`` is None for a
    message queued outside a run (the answer to a reply read by ``answers fetch``).
    """
    created = _frames.aware_utc(now, "now")
    keys = [m.key for m in messages]
    if len(set(keys)) != len(keys):
        raise ValueError("two messages share a key")
    known = set(_existing(session, keys))
    added = []
    for m in messages:
        if m.key in known:
            continue
        session.add(
            OutboxMessage(
                key=m.key,
                department=m.department,
                kind=MessageKind(m.kind).value,
                as_of=as_of,
                run_id=run_id,
                recipients=", ".join(m.recipients),
                subject=m.subject,
                resource_ids=list(m.resource_ids),
                message=m.message,
                status=OutboxStatus.PENDING.value,
                created_at=created,
                attempts=0,
            )
        )
        added.append(m.key)
    session.flush()
    return added


def _existing(session: Session, keys: Sequence[str]) -> list[str]:
    found: list[str] = []
    for chunk in _frames.batched(list(keys), 900):
        found.extend(session.scalars(select(OUTBOX.c.key).where(OUTBOX.c.key.in_(chunk))))
    return found


@storage_operation("read the outbox")
def due(session: Session, now: datetime) -> list[int]:
    """Ids of the messages to send now, oldest first.

    Pending ones, interrupted ones (``sending``) and failed, partial and
    unknown-outcome ones whose ``next_attempt_at`` has come.
    """
    at = _frames.aware_utc(now, "now")
    t = OUTBOX.c
    query = (
        select(t.id)
        .where(
            or_(
                t.status.in_([OutboxStatus.PENDING.value, OutboxStatus.SENDING.value]),
                t.status.in_(
                    [
                        OutboxStatus.FAILED.value,
                        OutboxStatus.PARTIAL.value,
                        OutboxStatus.UNKNOWN.value,
                    ]
                )
                & (t.next_attempt_at <= at),
            )
        )
        .order_by(t.id)
    )
    return list(session.scalars(query))


@storage_operation("read an outbox message")
def get(session: Session, message_id: int) -> OutboxMessage:
    """The mapped row of ``message_id`` (raises ``ValueError`` if there is none)."""
    row = session.get(OutboxMessage, message_id)
    if row is None:
        raise ValueError(f"no outbox message with id {message_id}")
    return row


@storage_operation("record the start of a send")
def mark_sending(session: Session, row: OutboxMessage, *, now: datetime, transport: str) -> None:
    """Claim ``row`` for sending: one more attempt, started now."""
    row.status = OutboxStatus.SENDING.value
    row.attempts += 1
    row.last_attempt_at = _frames.aware_utc(now, "now")
    row.transport = transport
    session.flush()


@storage_operation("record a sent email")
def mark_sent(session: Session, row: OutboxMessage, *, now: datetime) -> None:
    """``row`` was handed over to the transport."""
    row.status = OutboxStatus.SENT.value
    row.sent_at = _frames.aware_utc(now, "now")
    if row.delivered_at is None:
        row.delivered_at = row.sent_at
        _start_clock(session, row)
    row.next_attempt_at = None
    row.last_error = None
    session.flush()


@storage_operation("record a failed email")
def mark_failed(session: Session, row: OutboxMessage, *, now: datetime, error: str) -> None:
    """``row`` could not be sent; a later run tries again after :func:`backoff`."""
    at = _frames.aware_utc(now, "now")
    row.status = OutboxStatus.FAILED.value
    row.last_error = redact(error)[:500]
    row.next_attempt_at = at + backoff(max(row.attempts, 1))
    session.flush()


@storage_operation("record an email of unknown outcome")
def mark_unknown(session: Session, row: OutboxMessage, *, now: datetime, error: str) -> None:
    """``row`` went out but no answer came: sent again after :data:`UNKNOWN_GRACE`, not before."""
    at = _frames.aware_utc(now, "now")
    row.status = OutboxStatus.UNKNOWN.value
    row.last_error = error[:500]
    row.next_attempt_at = at + UNKNOWN_GRACE
    session.flush()


def to_addresses(row: OutboxMessage) -> set[str]:
    """The To addresses (the focal points) of ``row``'s message, lower-cased."""
    head = row.message.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    message = email.message_from_string(head + "\r\n\r\n", policy=email.policy.default)
    values = [str(v) for v in message.get_all("To", [])]
    return {address.lower() for _, address in getaddresses(values) if "@" in address}


def still_to_send(row: OutboxMessage, recipients: Sequence[str]) -> list[str]:
    """Which of the message's envelope ``recipients`` the next attempt goes to.

    None yet tried: all. A To address accepted: those that answered 4xx (a
    5xx refusal is final). No To address accepted: every one not accepted.
    """
    known = {a.lower(): v for a, v in (row.recipient_status or {}).items()}
    if not known:
        return list(recipients)
    left = [a for a in recipients if known.get(a.lower()) != ACCEPTED]
    if row.delivered_at is None:
        return left
    return [a for a in left if not known.get(a.lower(), "4").startswith("5")]


@storage_operation("record each recipient's answer")
def mark_answered(
    session: Session, row: OutboxMessage, answers: Mapping[str, str], *, now: datetime
) -> str:
    """Record the relay's answer per address (``accepted`` or its refusal); returns the status.

    ``sent`` when nothing is left to try (see :func:`still_to_send`) and a To
    address accepted; ``partial`` when a To address accepted and some copies
    answered 4xx; ``failed`` (with backoff) when no To address accepted.
    """
    at = _frames.aware_utc(now, "now")
    status = dict(row.recipient_status or {})
    status.update(answers)
    row.recipient_status = status
    tos = to_addresses(row)
    if row.delivered_at is None and any(
        not tos or a.lower() in tos for a, v in answers.items() if v == ACCEPTED
    ):
        row.delivered_at = at
        _start_clock(session, row)
    refused = {a: v for a, v in status.items() if v != ACCEPTED}
    error = "; ".join(f"{a} ({v})" for a, v in refused.items())
    if row.delivered_at is None:
        row.status = OutboxStatus.FAILED.value
        row.last_error = (error or "no focal point accepted the message")[:500]
        row.next_attempt_at = at + backoff(max(row.attempts, 1))
    elif still_to_send(row, list(status)):
        row.status = OutboxStatus.PARTIAL.value
        row.last_error = error[:500]
        row.next_attempt_at = at + backoff(max(row.attempts, 1))
    else:
        row.status = OutboxStatus.SENT.value
        row.sent_at = at
        row.next_attempt_at = None
        row.last_error = error[:500] or None
    session.flush()
    return row.status


#: The cycle dates (``resource_state``) a message may have set: one message may
#: carry new, reminded, overdue and escalated items at once.
_CYCLE_COLUMNS: Final = (
    RESOURCE_STATE.c.first_notified_on,
    RESOURCE_STATE.c.reminded_on,
    RESOURCE_STATE.c.overdue_on,
    RESOURCE_STATE.c.escalated_on,
    RESOURCE_STATE.c.first_escalated_on,
)


def _start_clock(session: Session, row: OutboxMessage) -> None:
    """A focal point has ``row`` now: its findings' cycle counts from the day it arrived.

    The run set the cycle dates to the message's as-of day when it queued it;
    a message that reached a focal point days later moves those dates on by as
    many days (so a reminder is due ``reminder_days`` after the focal point
    actually got the notice). Dates a later cycle set are left alone. The
    committee's digest lists no resources and moves nothing.
    """
    assert row.delivered_at is not None
    late = (row.delivered_at.date() - row.created_at.date()).days
    if late <= 0 or not row.resource_ids:
        return
    for column in _CYCLE_COLUMNS:
        for chunk in _frames.batched(list(row.resource_ids), 900):
            session.execute(
                update(RESOURCE_STATE)
                .where(RESOURCE_STATE.c.resource_id.in_(chunk), column == row.as_of)
                .values({column.name: row.as_of + timedelta(days=late)})
            )


@storage_operation("read the undelivered emails")
def undelivered(session: Session, *, before_run: int | None = None) -> list[OutboxEntry]:
    """Messages not delivered to every recipient yet, oldest first (runs before ``before_run``)."""
    query = select(OutboxMessage).where(OutboxMessage.status.in_(list(UNDELIVERED)))
    if before_run is not None:
        query = query.where(or_(OutboxMessage.run_id.is_(None), OutboxMessage.run_id < before_run))
    return [OutboxEntry.of(row) for row in session.scalars(query.order_by(OutboxMessage.id))]


@storage_operation("read the findings waiting on an email")
def awaiting_delivery(session: Session) -> set[str]:
    """Resource ids listed in a message no focal point has accepted yet."""
    query = select(OUTBOX.c.resource_ids).where(
        OUTBOX.c.status.in_(list(UNDELIVERED)) & OUTBOX.c.delivered_at.is_(None)
    )
    return {str(rid) for ids in session.scalars(query) for rid in ids}


@storage_operation("list the outbox")
def entries(
    session: Session, *, statuses: Sequence[str] = (), limit: int | None = None
) -> list[OutboxEntry]:
    """Outbox messages, newest first, optionally only those with one of ``statuses``."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if statuses:
        query = query.where(OutboxMessage.status.in_(list(statuses)))
    if limit is not None:
        query = query.limit(limit)
    return [OutboxEntry.of(row) for row in session.scalars(query)]


@storage_operation("count the outbox")
def counts(session: Session) -> dict[str, int]:
    """How many messages there are in each status (every status listed, zero included)."""
    rows: Any = session.execute(
        select(OUTBOX.c.status, func.count()).group_by(OUTBOX.c.status)
    ).all()
    found = {str(status): int(n) for status, n in rows}
    return {s.value: found.get(s.value, 0) for s in OutboxStatus}
