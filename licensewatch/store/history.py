"""Read-only queries over the stored run history, for the finance and risk reports.

Nothing here writes: the reports read what the nightly runs stored (``runs``,
``findings``, ``resource_state``) and never change it. Each query returns a
frame with fixed columns and dtypes, empty when there is nothing to read.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any, Final

import pandas as pd
from sqlalchemy import BigInteger, and_, case, cast, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from licensewatch import model
from licensewatch.store import _frames
from licensewatch.store.db import storage_operation
from licensewatch.store.state import DORMANT
from licensewatch.store.tables import FINDINGS, RESOURCE_STATE, RUNS, RunStatus

#: One row per run: what it found, summed the way ``reports.finance.totals`` sums.
RUN_AGGREGATES: Final[model.Schema] = {
    "run_id": model.INT,
    "as_of": model.DATETIME,
    "status": model.STRING,
    "license_findings": model.INT,
    "phone_findings": model.INT,
    "dormant_accounts": model.INT,
    "separated_accounts": model.INT,
    "unpriced_findings": model.INT,
    "annual_avoidable_cents": model.INT,
    "accrued_avoidable_cents": model.INT,
}
#: Resources a focal point was told about, with the first run that showed them notified.
NOTIFIED_STATE: Final[model.Schema] = {
    "resource_id": model.STRING,
    "department": model.STRING,
    "last_notified_at": model.DATETIME,
    "notify_count": model.INT,
    "first_notified_on": model.DATETIME,
}
#: Resources removed since they were found dormant (realized savings).
REMOVED_STATE: Final[model.Schema] = {
    "resource_id": model.STRING,
    "department": model.STRING,
    "removed_at": model.DATETIME,
    "annual_cost_cents": model.INT,
}


def _sum_if(condition: Any, value: Any = 1) -> Any:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


@storage_operation("read the run history")
def run_aggregates(
    session: Session,
    *,
    statuses: Collection[str] = (RunStatus.OK.value,),
    since: date | None = None,
    until: date | None = None,
) -> pd.DataFrame:
    """Per run with one of ``statuses`` and ``since <= as_of <= until``: counts and cost totals.

    Sums are taken over the stored findings, so they are exactly those of the
    run's findings.csv: unpriced findings (no item) count as zero. A licence
    finding is a dormant account by its ``account_id`` (distinct); a separated
    account has ``SEPARATED`` among its reasons. Runs without findings have
    zeros; a run whose findings retention deleted has the totals kept then.
    Rows are sorted by as-of date, then run id.
    """
    f = FINDINGS.c
    licence = f.resource_kind == model.ResourceKind.LICENSE.value
    priced = f.item.is_not(None)
    separated = (literal(";") + f.reasons + literal(";")).like(
        f"%;{model.Reason.SEPARATED.value};%"
    )
    r = RUNS.c
    wanted: list[ColumnElement[bool]] = [r.status.in_(list(statuses))]
    if since is not None:
        wanted.append(r.as_of >= since)
    if until is not None:
        wanted.append(r.as_of <= until)
    # The runs are filtered inside the aggregate too, so that only their findings are read
    # (through the run_id index), not the whole history.
    per_run = (
        select(
            f.run_id.label("run_id"),
            _sum_if(licence).label("license_findings"),
            _sum_if(f.resource_kind == model.ResourceKind.PHONE.value).label("phone_findings"),
            func.count(func.distinct(case((licence, f.account_id)))).label("dormant_accounts"),
            func.count(func.distinct(case((and_(licence, separated), f.account_id)))).label(
                "separated_accounts"
            ),
            _sum_if(~priced).label("unpriced_findings"),
            _sum_if(priced, f.annual_cost_cents).label("annual_avoidable_cents"),
            _sum_if(priced, f.accrued_cost_cents).label("accrued_avoidable_cents"),
        )
        .where(f.run_id.in_(select(r.id).where(*wanted)))
        .group_by(f.run_id)
        .subquery()
    )
    counts = [c for c in per_run.c if c.name != "run_id"]
    query = (
        select(
            r.id,
            r.as_of,
            r.status,
            *(cast(func.coalesce(c, 0), BigInteger) for c in counts),
            r.pruned_totals,
        )
        .select_from(RUNS.outerjoin(per_run, per_run.c.run_id == r.id))
        .where(*wanted)
        .order_by(r.as_of, r.id)
    )
    names = [c.name for c in counts]
    rows = [_kept_totals(row, names) for row in session.execute(query).all()]
    return _frames.frame_of([_with_day(row, 1) for row in rows], RUN_AGGREGATES)


def _kept_totals(row: Any, names: list[str]) -> tuple[Any, ...]:
    """A run's sums, from the totals kept when retention deleted its findings rows."""
    *values, kept = row
    if kept:
        values[3:] = [int(kept.get(name, 0)) for name in names]
    return tuple(values)


def _with_day(row: Any, position: int) -> tuple[Any, ...]:
    """``row`` with its ``date`` at ``position`` as a UTC midnight timestamp."""
    values = list(row)
    day = values[position]
    values[position] = None if day is None else pd.Timestamp(day, tz="UTC")
    return tuple(values)


@storage_operation("read the notified resources")
def notified_state(session: Session) -> pd.DataFrame:
    """Resources still dormant in the state (``new``/``notified``) that were ever notified.

    ``first_notified_on`` is the as-of date of the first ``ok`` run whose
    stored findings show the resource ``notified`` (NaT when history was
    pruned); ``last_notified_at`` is when the latest notice went out.
    """
    s, f, r = RESOURCE_STATE.c, FINDINGS.c, RUNS.c
    first = (
        select(func.min(r.as_of))
        .select_from(FINDINGS.join(RUNS, r.id == f.run_id))
        .where(
            f.resource_id == s.resource_id,
            f.status == model.FindingStatus.NOTIFIED.value,
            r.status == RunStatus.OK.value,
        )
        .scalar_subquery()
    )
    query = (
        select(s.resource_id, s.department, s.last_notified_at, s.notify_count, first)
        .where(s.last_notified_at.is_not(None), s.status.in_(DORMANT))
        .order_by(s.resource_id)
    )
    rows = session.execute(query).all()
    return _frames.frame_of([_with_day(row, 4) for row in rows], NOTIFIED_STATE)


@storage_operation("read the removed resources")
def removed_state(session: Session) -> pd.DataFrame:
    """Resources whose state is ``removed``, with when and their last known annual cost."""
    s = RESOURCE_STATE.c
    query = (
        select(s.resource_id, s.department, s.removed_at, func.coalesce(s.annual_cost_cents, 0))
        .where(s.status == model.FindingStatus.REMOVED.value)
        .order_by(s.resource_id)
    )
    return _frames.frame_of(session.execute(query).all(), REMOVED_STATE)
