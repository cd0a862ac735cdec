"""Sending what the outbox holds, exactly once from the recipient's point of view.

The run records its messages in the ``outbox`` table in its own transaction
(:func:`queued`); :func:`deliver` then sends every message that is due, one
at a time, committing each state change on its own: ``sending`` before the
transport is called, ``sent`` after it returned. A crash leaves at most one
message ``sending``; the next delivery sends it again with the same
``Message-ID``. A message the transport refuses is ``failed`` and retried
with backoff by a later delivery; the others still go. When the transport
itself is down, delivery stops and the rest wait for the next run.
"""

from __future__ import annotations

import email
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from licensewatch.errors import DeliveryError, TransportUnavailable
from licensewatch.logs import get_logger
from licensewatch.notify.compose import DepartmentNotice
from licensewatch.notify.mime import POLICY
from licensewatch.notify.transport import Transport
from licensewatch.store import outbox

log = get_logger(__name__)


@dataclass(frozen=True)
class Delivery:
    """What one delivery did: sent, failed (retried later), left for the next run."""

    sent: int = 0
    failed: int = 0
    left: int = 0
    errors: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether every due message went out."""
        return not (self.failed or self.left)


def queued(notice: DepartmentNotice) -> outbox.Queued:
    """A composed notice as an outbox record (its exact bytes)."""
    return outbox.Queued(
        key=notice.key,
        department=notice.department,
        kind=outbox.MessageKind(notice.kind),
        recipients=(*notice.to, *notice.cc),
        subject=str(notice.message["Subject"]),
        resource_ids=notice.resource_ids,
        message=notice.message.as_bytes(),
    )


def queue_notices(
    session: Session,
    notices: Sequence[DepartmentNotice],
    *,
    as_of: date,
    run_id: int,
    now: datetime,
) -> list[str]:
    """Record ``notices`` in the outbox (in the caller's transaction); returns the new keys."""
    return outbox.queue(session, [queued(n) for n in notices], as_of=as_of, run_id=run_id, now=now)


def _parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=POLICY)
    assert isinstance(message, EmailMessage)
    return message


def deliver(
    engine: Engine, transport: Transport, *, name: str, clock: Callable[[], datetime]
) -> Delivery:
    """Send every due message through ``transport`` (named ``name`` in the outbox)."""
    with Session(engine) as session:
        ids = outbox.due(session, clock())
    sent = failed = 0
    errors: list[str] = []
    try:
        for position, message_id in enumerate(ids):
            with Session(engine) as session:
                row = outbox.get(session, message_id)
                if row.status == outbox.OutboxStatus.SENDING.value:
                    log.warning(
                        "email %s was interrupted while being sent; sending it again with the "
                        "same Message-ID",
                        row.key,
                    )
                outbox.mark_sending(session, row, now=clock(), transport=name)
                session.commit()
                try:
                    transport.send(_parsed(row.message), key=row.key)
                except TransportUnavailable as exc:
                    outbox.mark_failed(session, row, now=clock(), error=exc.one_line())
                    session.commit()
                    errors.append(f"{row.key}: {exc.one_line()}")
                    left = len(ids) - position - 1
                    log.error(
                        "cannot send emails: %s; %d more left queued for the next run",
                        exc.one_line(),
                        left,
                    )
                    return Delivery(sent, failed + 1, left, tuple(errors))
                except DeliveryError as exc:
                    outbox.mark_failed(session, row, now=clock(), error=exc.one_line())
                    session.commit()
                    failed += 1
                    errors.append(f"{row.key}: {exc.one_line()}")
                    log.error("email %s to %s failed: %s", row.key, row.recipients, exc.one_line())
                    continue
                outbox.mark_sent(session, row, now=clock())
                session.commit()
                sent += 1
                log.info("email %s (%s) sent to %s", row.key, row.kind, row.recipients)
    finally:
        transport.close()
    return Delivery(sent, failed, 0, tuple(errors))
