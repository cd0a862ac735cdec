"""Retention in the database: delete old findings rows and the bytes of old delivered emails.

Never deleted: the runs rows (counts, totals, summary; a pruned run keeps
the totals of its findings in ``pruned_totals``), the resource state, the
decisions and removal actions, the phone registration history, undelivered
messages, and the findings of the last good run (the brake's baseline and
the list ``deprovision`` reads). The caller holds the run lock and owns the
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from licensewatch.retention import Retention
from licensewatch.store.db import storage_operation
from licensewatch.store.history import run_aggregates
from licensewatch.store.outbox_table import OUTBOX, OUTBOX_BODIES, UNDELIVERED
from licensewatch.store.repository import last_good_run
from licensewatch.store.tables import FINDINGS, RUNS, RunStatus

_TOTALS = (
    "license_findings",
    "phone_findings",
    "dormant_accounts",
    "separated_accounts",
    "unpriced_findings",
    "annual_avoidable_cents",
    "accrued_avoidable_cents",
)


@dataclass(frozen=True)
class PrunedRows:
    """What the database part of retention deleted (or would delete)."""

    findings_rows: int
    runs_pruned: int
    outbox_bodies: int
    outbox_bytes: int


@storage_operation("read the day of the history")
def history_day(session: Session) -> date | None:
    """The newest as-of day recorded: the day retention counts back from (None: no runs).

    Not the machine's clock: a run that replays or back-fills an earlier day
    must not make the history look older than it is.
    """
    newest = session.scalar(select(func.max(RUNS.c.as_of)))
    return None if newest is None else newest


@storage_operation("prune the history")
def prune_rows(
    session: Session, retention: Retention, *, today: date, now: datetime, dry_run: bool
) -> PrunedRows:
    """Delete findings of runs before ``today - findings_days`` and old delivered email bodies.

    Ages are counted in as-of days (``today`` is :func:`history_day`). With
    ``dry_run`` nothing changes; the counts are what would be deleted.
    """
    runs, keep = _runs_to_prune(session, today - timedelta(days=retention.findings_days))
    f, r = FINDINGS.c, RUNS.c
    rows = 0
    if runs:
        rows = int(session.scalar(select(func.count()).where(f.run_id.in_(runs))) or 0)
    bodies = _old_bodies(today - timedelta(days=retention.outbox_days))
    b = OUTBOX_BODIES.c
    found = session.execute(
        select(func.count(), func.coalesce(func.sum(func.length(b.message)), 0)).where(bodies)
    ).one()
    result = PrunedRows(rows, len(runs), int(found[0]), int(found[1]))
    if dry_run:
        return result
    if runs:
        totals = run_aggregates(session, statuses=[s.value for s in RunStatus], until=keep)
        kept = totals[totals["run_id"].isin(runs)]
        for record in kept.to_dict("records"):
            session.execute(
                update(RUNS)
                .where(r.id == int(record["run_id"]))
                .values(
                    findings_pruned_at=now,
                    pruned_totals={name: int(record[name]) for name in _TOTALS},
                )
            )
        session.execute(delete(FINDINGS).where(f.run_id.in_(runs)))
    session.execute(update(OUTBOX_BODIES).where(bodies).values(message=b""))
    session.flush()
    return result


def _runs_to_prune(session: Session, before: date) -> tuple[list[int], date]:
    """Ids of runs older than ``before`` whose findings are still stored (not the last good)."""
    r = RUNS.c
    last = last_good_run(session)
    query = select(r.id).where(r.as_of < before, r.findings_pruned_at.is_(None))
    if last is not None:
        query = query.where(r.id != last.id)
    return [int(i) for i in session.scalars(query.order_by(r.id))], before - timedelta(days=1)


def _old_bodies(before: date) -> ColumnElement[bool]:
    """Delivered messages of an as-of day before ``before`` whose bytes are still stored."""
    o, b = OUTBOX.c, OUTBOX_BODIES.c
    delivered = select(o.id).where(o.status.not_in(list(UNDELIVERED)) & (o.as_of < before))
    return b.outbox_id.in_(delivered) & (func.length(b.message) > 0)
