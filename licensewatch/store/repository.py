"""Runs and their findings: what the pipeline writes and reports read back.

Every function takes a :class:`~sqlalchemy.orm.Session` whose transaction the
caller owns: a run is one transaction that the pipeline commits at the very
end, so nothing here commits (it only flushes). Driver errors surface as
:class:`~licensewatch.errors.StorageError`; a caller's bug (naive datetime,
missing column, unknown status) as ``ValueError``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Final

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensewatch import model
from licensewatch.store import _frames, bulk
from licensewatch.store.db import storage_operation
from licensewatch.store.state import absent_since_last_run, load_state, update_state
from licensewatch.store.tables import FINDINGS, Finding, Run, RunStatus

__all__ = [
    "STORED_FINDINGS",
    "RunRecord",
    "absent_since_last_run",
    "findings_of_run",
    "finish_run",
    "last_good_run",
    "list_runs",
    "load_state",
    "save_findings",
    "start_run",
    "update_state",
]

#: What a run's stored findings look like when read back (COSTED_FINDINGS dtypes + status).
STORED_FINDINGS: Final[model.Schema] = {
    column.name: model.COSTED_FINDINGS.get(column.name, model.STRING)
    for column in FINDINGS.columns
    if column.name not in ("id", "run_id")
}
_REQUIRED: Final = tuple(
    c.name for c in FINDINGS.columns if not c.nullable and c.name in STORED_FINDINGS
)
#: Columns a caller may leave out (added by migration 0006; NA when the pull read no groups).
_OPTIONAL: Final = ("via_group_id", "via_group", "assigned_directly")
#: Rows per executemany: bounds memory for a million findings, keeps each batch fast.
INSERT_BATCH: Final = 10_000


@dataclass(frozen=True)
class RunRecord:
    """One run as stored: when, for which as-of date, how it ended and what it found."""

    id: int
    run_key: str
    as_of: date
    started_at: datetime
    finished_at: datetime | None
    status: str
    dry_run: bool
    counts: Mapping[str, int]
    annual_avoidable_cents: int
    accrued_avoidable_cents: int
    findings_count: int
    note: str | None
    summary: Mapping[str, object] | None = None

    @classmethod
    def of(cls, run: Run) -> RunRecord:
        """The record of a mapped :class:`Run` row."""
        return cls(
            id=run.id,
            run_key=run.run_key,
            as_of=run.as_of,
            started_at=run.started_at,
            finished_at=run.finished_at,
            status=run.status,
            dry_run=run.dry_run,
            counts=MappingProxyType(dict(run.counts)),
            annual_avoidable_cents=run.annual_avoidable_cents,
            accrued_avoidable_cents=run.accrued_avoidable_cents,
            findings_count=run.findings_count,
            note=run.note,
            summary=None if run.summary is None else MappingProxyType(dict(run.summary)),
        )


def _as_date(as_of: date) -> date:
    if isinstance(as_of, datetime):
        return _frames.aware_utc(as_of, "as_of").date()
    return as_of


@storage_operation("record the start of the run")
def start_run(
    session: Session,
    *,
    as_of: date,
    started_at: datetime,
    dry_run: bool,
    run_key: str | None = None,
) -> int:
    """Add a ``running`` run and return its id (flushed, not committed).

    ``run_key`` defaults to a fresh UUID (hex); pass the key the logs use to tie
    the two together.
    """
    run = Run(
        run_key=run_key or uuid.uuid4().hex,
        as_of=_as_date(as_of),
        started_at=_frames.aware_utc(started_at, "started_at"),
        finished_at=None,
        status=RunStatus.RUNNING.value,
        dry_run=dry_run,
        counts={},
        annual_avoidable_cents=0,
        accrued_avoidable_cents=0,
        findings_count=0,
    )
    session.add(run)
    session.flush()
    return run.id


@storage_operation("save the findings")
def save_findings(session: Session, run_id: int, costed: pd.DataFrame) -> None:
    """Insert a run's costed findings (COSTED_FINDINGS columns plus ``status``).

    Bulk inserts (:mod:`licensewatch.store.bulk`: ``COPY`` on PostgreSQL) in batches of
    :data:`INSERT_BATCH` rows, so time and memory grow linearly with the number of findings.
    """
    missing = {
        c: pd.Series(pd.NA, index=costed.index, dtype=STORED_FINDINGS[c])
        for c in _OPTIONAL
        if c not in costed.columns
    }
    costed = costed.assign(**missing) if missing else costed
    _frames.require_columns(costed, STORED_FINDINGS, "costed findings")
    _frames.require_values(costed, _REQUIRED, "costed findings")
    duplicated = costed["resource_id"].duplicated()
    if duplicated.any():
        first = costed.loc[duplicated, "resource_id"].iloc[0]
        raise ValueError(f"costed findings list resource {first} more than once")
    columns = list(STORED_FINDINGS)
    for start in range(0, len(costed), INSERT_BATCH):
        chunk = costed.iloc[start : start + INSERT_BATCH]
        bulk.insert_frame(session, FINDINGS, chunk, columns, {"run_id": run_id})


@storage_operation("record the end of the run")
def finish_run(
    session: Session,
    run_id: int,
    *,
    status: str,
    finished_at: datetime,
    counts: Mapping[str, int],
    annual_avoidable_cents: int,
    accrued_avoidable_cents: int,
    findings_count: int,
    note: str | None = None,
    summary: Mapping[str, object] | None = None,
) -> None:
    """Record how run ``run_id`` ended and what it found (flushed, not committed).

    ``summary`` is the run summary to keep with the row (JSON-serialisable).
    """
    final = RunStatus(status)  # ValueError for a status the schema would refuse
    if final is RunStatus.RUNNING:
        raise ValueError("a finished run cannot have status 'running'")
    run = session.get(Run, run_id)
    if run is None:
        raise ValueError(f"no run with id {run_id}")
    run.status = final.value
    run.finished_at = _frames.aware_utc(finished_at, "finished_at")
    run.counts = {str(k): int(v) for k, v in counts.items()}
    run.annual_avoidable_cents = int(annual_avoidable_cents)
    run.accrued_avoidable_cents = int(accrued_avoidable_cents)
    run.findings_count = int(findings_count)
    run.note = note
    run.summary = None if summary is None else dict(summary)
    session.flush()


@storage_operation("read the last good run")
def last_good_run(session: Session) -> RunRecord | None:
    """The latest run that ended ``ok`` (by as-of date, then by id), if any."""
    run = session.scalars(
        select(Run)
        .where(Run.status == RunStatus.OK.value)
        .order_by(Run.as_of.desc(), Run.id.desc())
        .limit(1)
    ).first()
    return None if run is None else RunRecord.of(run)


@storage_operation("list the runs")
def list_runs(session: Session, limit: int = 20) -> list[RunRecord]:
    """The ``limit`` most recent runs, newest first, whatever their status."""
    runs = session.scalars(select(Run).order_by(Run.id.desc()).limit(limit))
    return [RunRecord.of(run) for run in runs]


@storage_operation("read the findings of a run")
def findings_of_run(session: Session, run_id: int) -> pd.DataFrame:
    """A run's findings in the order saved, with :data:`STORED_FINDINGS` columns and dtypes."""
    columns = [FINDINGS.c[name] for name in STORED_FINDINGS]
    rows = session.execute(
        select(*columns).where(Finding.run_id == run_id).order_by(Finding.id)
    ).all()
    return _frames.frame_of(rows, STORED_FINDINGS)
