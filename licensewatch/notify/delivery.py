"""Sending what the outbox holds, exactly once from the recipient's point of view.

The run records its messages in the ``outbox`` table in its own transaction
(:func:`queued`); :func:`deliver` then sends every message that is due, one
at a time, committing each state change on its own: ``sending`` before the
transport is called, ``sent`` after it returned. A crash leaves at most one
message ``sending``; the next delivery sends it again with the same
``Message-ID``. A message the transport refuses is ``failed`` and retried
with backoff by a later delivery; the others still go. When the transport
itself is down, delivery stops and the rest wait for the next run.

Per recipient: the transport reports which envelope addresses the relay
refused; a later attempt goes to those only (see
:func:`licensewatch.store.outbox.still_to_send`). A transient refusal (4xx,
greylisting, a busy relay, 421) is retried within the run after
:data:`RETRY_DELAYS`. A message the relay took without answering in time
is ``unknown``: not retried in this run, sent again only after
:data:`licensewatch.store.outbox.UNKNOWN_GRACE` (after asking the transport
whether it went out, which Graph can tell from the Sent Items).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final, Literal

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from licensewatch.errors import DeliveryError, DeliveryUnknown, TransportUnavailable
from licensewatch.logs import get_logger
from licensewatch.notify.compose import DepartmentNotice
from licensewatch.notify.transports.base import Transport, parse_stored
from licensewatch.store import outbox

log = get_logger(__name__)


@dataclass(frozen=True)
class Delivery:
    """What one delivery did: sent, failed (retried later), unknown, left for the next run.

    ``undelivered`` names (department, kind, as-of) every message, of this run
    or an earlier one, that has not yet reached all its recipients.
    """

    sent: int = 0
    failed: int = 0
    left: int = 0
    errors: tuple[str, ...] = ()
    unknown: int = 0
    undelivered: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether every message in the outbox has gone out (this run's and earlier ones)."""
        return not (self.failed or self.left or self.unknown or self.undelivered)


def undelivered_error(prefix: str, delivery: Delivery) -> DeliveryError:
    """The one line that names every message not yet delivered (department, kind, as-of)."""
    names = delivery.undelivered
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    reason = delivery.errors[0] if delivery.errors else "see licensewatch outbox"
    return DeliveryError(
        f"{prefix} {len(names) or delivery.failed + delivery.left} emails could not be sent "
        f"yet: {shown or 'see the log'} ({reason})",
        hint="they stay in the outbox and later runs retry them; see licensewatch "
        "outbox, or send them now with licensewatch outbox send",
    )


def queued(notice: DepartmentNotice) -> outbox.Queued:
    """A composed notice as an outbox record (its exact bytes)."""
    return outbox.Queued(
        key=notice.key,
        department=notice.department,
        kind=outbox.MessageKind(notice.kind),
        recipients=(*notice.to, *notice.cc),
        subject=str(notice.message["Subject"]),
        resource_ids=notice.resource_ids,
        message=notice.as_bytes(),
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


#: Waits before the in-run retries of a transient (4xx) failure: about 1.5 minutes in all.
RETRY_DELAYS: Final = (5.0, 20.0, 60.0)


def deliver(
    engine: Engine,
    transport: Transport,
    *,
    name: str,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None] | None = None,
    retry_delays: Sequence[float] = RETRY_DELAYS,
) -> Delivery:
    """Send every due message through ``transport`` (named ``name`` in the outbox).

    A transient refusal (4xx: greylisting, a busy relay) is retried within
    the run after each of ``retry_delays`` seconds; what still fails waits
    for a later run (backoff). A message whose outcome is unknown is never
    retried within the run.
    """
    with Session(engine) as session:
        ids = outbox.due(session, clock())
    tally = _Tally()
    try:
        waiting = list(ids)
        for delay in (0.0, *retry_delays):
            if not waiting:
                break
            if delay:
                log.info(
                    "%d emails refused for now (4xx); trying again in %g s", len(waiting), delay
                )
                (sleep or time.sleep)(delay)  # looked up now: tests patch time.sleep
            waiting = _pass(engine, transport, waiting, name, clock, tally)
            if tally.down:
                break
        tally.failed += len(waiting)  # still refused after the last retry: a later run's
    finally:
        transport.close()
    with Session(engine) as session:
        left = outbox.undelivered(session)
    if left:
        log.error("%d emails not delivered yet: %s", len(left), ", ".join(e.label for e in left))
    return Delivery(
        sent=tally.sent,
        failed=tally.failed,
        left=tally.left,
        errors=tuple(tally.errors),
        unknown=tally.unknown,
        undelivered=tuple(e.label for e in left),
    )


@dataclass
class _Tally:
    sent: int = 0
    failed: int = 0
    left: int = 0
    unknown: int = 0
    down: bool = False
    errors: list[str] = field(default_factory=list)


#: What became of one message in a pass: delivered or given up for this run
#: (``done``), to retry after the next delay (``retry``), the transport
#: refused for now so this and the rest retry later (``again``), or the
#: transport is down and delivery stops (``stop``).
_Outcome = Literal["done", "retry", "again", "stop"]


def _pass(
    engine: Engine,
    transport: Transport,
    ids: Sequence[int],
    name: str,
    clock: Callable[[], datetime],
    tally: _Tally,
) -> list[int]:
    """Try each of ``ids`` once; returns those to retry within the run (transient failures)."""
    retry: list[int] = []
    for position, message_id in enumerate(ids):
        with Session(engine) as session:
            row = outbox.get(session, message_id)
            if row.status == outbox.OutboxStatus.UNKNOWN.value:
                checked = _check_unknown(
                    session, transport, row, clock, tally, left=len(ids) - position
                )
                if checked == "stop":
                    return []
                if checked == "done":
                    continue
            if row.status == outbox.OutboxStatus.SENDING.value:
                log.warning(
                    "email %s was interrupted while being sent; sending it again with the "
                    "same Message-ID",
                    row.key,
                )
            rest = list(ids[position + 1 :])
            outcome = _send_one(session, transport, row, name, clock, tally, rest=len(rest))
            if outcome == "retry":
                retry.append(message_id)
            elif outcome == "again":
                return [*retry, message_id, *rest]
            elif outcome == "stop":
                return []
    return retry


def _check_unknown(
    session: Session,
    transport: Transport,
    row: outbox.OutboxMessage,
    clock: Callable[[], datetime],
    tally: _Tally,
    *,
    left: int,
) -> Literal["done", "resend", "stop"]:
    """Ask the transport whether a message of unknown outcome went out after all.

    ``done``: found in the sent items and marked sent; ``resend``: send it
    again; ``stop``: the transport is down (``left`` messages, this one
    included, wait for the next run).
    """
    try:
        found = transport.find_sent(parse_stored(row.message), key=row.key)
    except TransportUnavailable as exc:
        tally.errors.append(f"{row.key}: {exc.one_line()}")
        tally.left += left
        tally.down = True
        log.error("cannot check email %s: %s", row.key, exc.one_line())
        return "stop"
    if found:
        log.info("email %s was delivered after all: found in the sent items", row.key)
        outbox.mark_sent(session, row, now=clock())
        session.commit()
        tally.sent += 1
        return "done"
    log.warning(
        "email %s: its last attempt had no answer (%s); sending it again with the same Message-ID",
        row.key,
        "not found in the sent items" if found is False else "cannot be checked",
    )
    return "resend"


def _send_one(
    session: Session,
    transport: Transport,
    row: outbox.OutboxMessage,
    name: str,
    clock: Callable[[], datetime],
    tally: _Tally,
    *,
    rest: int,
) -> _Outcome:
    """Send one message to the recipients still owed it and record the answer.

    ``rest`` is how many messages of the pass come after this one (left for
    the next run if the transport turns out to be down).
    """
    envelope = [a.strip() for a in row.recipients.split(",") if a.strip()]
    targets = outbox.still_to_send(row, envelope)
    outbox.mark_sending(session, row, now=clock(), transport=name)
    session.commit()
    try:
        refused = transport.send_stored(
            row.message, key=row.key, recipients=None if targets == envelope else targets
        )
    except DeliveryUnknown as exc:
        outbox.mark_unknown(session, row, now=clock(), error=exc.one_line())
        session.commit()
        tally.unknown += 1
        tally.errors.append(f"{row.key}: {exc.one_line()}")
        log.error("email %s: outcome unknown: %s", row.key, exc.one_line())
        return "done"
    except TransportUnavailable as exc:
        outbox.mark_failed(session, row, now=clock(), error=exc.one_line())
        session.commit()
        tally.errors.append(f"{row.key}: {exc.one_line()}")
        if exc.transient:
            log.warning("email %s: %s", row.key, exc.one_line())
            return "again"
        tally.failed += 1
        tally.left += rest
        tally.down = True
        log.error(
            "cannot send emails: %s; %d more left queued for the next run", exc.one_line(), rest
        )
        return "stop"
    except DeliveryError as exc:
        outbox.mark_failed(session, row, now=clock(), error=exc.one_line())
        session.commit()
        tally.errors.append(f"{row.key}: {exc.one_line()}")
        log.error("email %s to %s failed: %s", row.key, row.recipients, exc.one_line())
        if exc.transient:
            return "retry"
        tally.failed += 1
        return "done"
    return _record_answers(session, row, targets, refused, clock, tally)


def _record_answers(
    session: Session,
    row: outbox.OutboxMessage,
    targets: Sequence[str],
    refused: Mapping[str, str],
    clock: Callable[[], datetime],
    tally: _Tally,
) -> _Outcome:
    """Record each recipient's answer to a send; ``retry`` when some refused for now (4xx)."""
    answers = {a: refused.get(a, outbox.ACCEPTED) for a in targets}
    answers.update(refused)
    status = outbox.mark_answered(session, row, answers, now=clock())
    session.commit()
    if refused:
        log.warning(
            "email %s: refused by %s",
            row.key,
            "; ".join(f"{a} ({why})" for a, why in refused.items()),
        )
    if status == outbox.OutboxStatus.SENT.value:
        tally.sent += 1
        log.info("email %s (%s) sent to %s", row.key, row.kind, ", ".join(targets))
        return "done"
    if any(why.startswith("4") for why in refused.values()):
        return "retry"
    tally.failed += 1
    tally.errors.append(f"{row.key}: {row.last_error}")
    return "done"
