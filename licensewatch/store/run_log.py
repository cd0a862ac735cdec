"""The run history as ``licensewatch runs`` shows it: runs, their emails and how they went.

Read-only queries over ``runs`` and ``outbox``: a run's row (its counts,
totals and summary, kept for ever) and the messages it queued (their rows
outlive their bodies under retention).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensewatch.store.db import storage_operation
from licensewatch.store.outbox_table import OUTBOX, OutboxEntry, OutboxMessage
from licensewatch.store.repository import RunRecord
from licensewatch.store.tables import Run


@dataclass(frozen=True)
class RunLine:
    """One run and what became of the emails it queued."""

    run: RunRecord
    emails: int
    delivered: int
    by_status: tuple[tuple[str, int], ...]

    @property
    def duration(self) -> timedelta | None:
        """From the start of the run to its row being recorded (None while running)."""
        if self.run.finished_at is None:
            return None
        return self.run.finished_at - self.run.started_at


@storage_operation("list the runs")
def recent_runs(session: Session, limit: int = 20) -> list[RunLine]:
    """The ``limit`` most recent runs, newest first, with their emails counted."""
    runs = [
        RunRecord.of(r) for r in session.scalars(select(Run).order_by(Run.id.desc()).limit(limit))
    ]
    return _lines(session, runs)


@storage_operation("read a run")
def find_run(session: Session, which: str) -> RunLine | None:
    """The run named by its id, its run key, or its as-of day (the latest run of that day)."""
    query = select(Run)
    # A run key is 12 hex digits and may be all decimal ones: a 12-digit name is a key.
    if which.isdigit() and len(which) < 12:
        query = query.where(Run.id == int(which))
    else:
        try:
            day = date.fromisoformat(which)
        except ValueError:
            query = query.where(Run.run_key == which)
        else:
            query = query.where(Run.as_of == day)
    row = session.scalars(query.order_by(Run.id.desc()).limit(1)).first()
    if row is None:
        return None
    return _lines(session, [RunRecord.of(row)])[0]


@storage_operation("read the emails of a run")
def run_messages(session: Session, run_id: int) -> list[OutboxEntry]:
    """The messages run ``run_id`` queued, in the order queued."""
    rows = session.scalars(
        select(OutboxMessage).where(OutboxMessage.run_id == run_id).order_by(OutboxMessage.id)
    )
    return [OutboxEntry.of(row) for row in rows]


def _lines(session: Session, runs: list[RunRecord]) -> list[RunLine]:
    ids = [r.id for r in runs]
    o = OUTBOX.c
    rows: Any = session.execute(
        select(o.run_id, o.status, func.count(), func.count(o.delivered_at))
        .where(o.run_id.in_(ids))
        .group_by(o.run_id, o.status)
    ).all()
    status: dict[int, Counter[str]] = {i: Counter() for i in ids}
    delivered: Counter[int] = Counter()
    for run_id, state, n, done in rows:
        status[int(run_id)][str(state)] += int(n)
        delivered[int(run_id)] += int(done)
    return [
        RunLine(
            run,
            sum(status[run.id].values()),
            delivered[run.id],
            tuple(sorted(status[run.id].items())),
        )
        for run in runs
    ]
