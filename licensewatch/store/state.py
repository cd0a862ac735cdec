"""Resource state across runs: first seen dormant, last notified, status.

One row per resource ever found dormant. A run reads the state of its
findings (:func:`load_state`) and writes it back (:func:`update_state`) in the
same transaction; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Any, Final

import pandas as pd
from sqlalchemy import Text, any_, bindparam, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from licensewatch import model
from licensewatch.store import _frames, bulk
from licensewatch.store.db import storage_operation
from licensewatch.store.tables import RESOURCE_STATE

#: What :func:`load_state` returns.
STATE: Final[model.Schema] = {
    "resource_id": model.STRING,
    "first_seen_dormant": model.DATETIME,
    "last_notified_at": model.DATETIME,
    "notify_count": model.INT,
    "status": model.STRING,
    "first_notified_on": model.DATETIME,
    "reminded_on": model.DATETIME,
    "escalated_on": model.DATETIME,
    "overdue_on": model.DATETIME,
    "first_escalated_on": model.DATETIME,
}
#: The notification cycle's dates (UTC midnight in frames, dates in the database).
CYCLE: Final = (
    "first_notified_on",
    "reminded_on",
    "escalated_on",
    "overdue_on",
    "first_escalated_on",
)
#: Ids per SQLite ``IN (…)`` lookup: under SQLite's historic 999-variable limit (still
#: the limit of the SQLite that some long-term-support distributions ship).
LOOKUP_BATCH: Final = 900
#: Rows per upsert executemany.
UPSERT_BATCH: Final = 10_000
#: Statuses of a resource the organization still pays for.
DORMANT: Final = (model.FindingStatus.NEW.value, model.FindingStatus.NOTIFIED.value)

_STATE_INPUT: Final = ("resource_id", "resource_kind", "subject", "department")


@storage_operation("read the resource state")
def load_state(session: Session, resource_ids: Collection[str]) -> pd.DataFrame:
    """The stored state of ``resource_ids`` (those that have one), with :data:`STATE` columns.

    Primary-key lookups whose cost follows the number of ids asked for, not the
    size of the history (which keeps every resource ever dormant): PostgreSQL
    takes all ids as one array parameter (``= ANY(:ids)``, one round trip);
    SQLite, in-process and cheap per query, takes them in ``IN`` batches of
    :data:`LOOKUP_BATCH`. No temporary tables, so no DDL rights are needed.
    """
    wanted = list(dict.fromkeys(resource_ids))
    t = RESOURCE_STATE.c
    query = select(*(t[name] for name in STATE))
    if not wanted:
        return model.empty(STATE)
    rows: list[Any] = []
    if session.get_bind().dialect.name == "postgresql":
        ids = bindparam("ids", value=wanted, type_=postgresql.ARRAY(Text))
        rows.extend(session.execute(query.where(t.resource_id == any_(ids))).all())
    else:
        for chunk in _frames.batched(wanted, LOOKUP_BATCH):
            rows.extend(session.execute(query.where(t.resource_id.in_(chunk))).all())
    cycle_at = [list(STATE).index(name) for name in CYCLE]
    rows = [_midnights(row, cycle_at) for row in rows]
    return _frames.frame_of(rows, STATE)


def _midnights(row: Any, positions: list[int]) -> list[Any]:
    values = list(row)
    for i in positions:
        if values[i] is not None:
            values[i] = pd.Timestamp(values[i], tz="UTC")
    return values


@storage_operation("update the resource state")
def update_state(
    session: Session,
    run_id: int,
    costed: pd.DataFrame,
    *,
    seen_at: datetime,
    notified_ids: Collection[str],
    notified_at: datetime | None,
) -> None:
    """Upsert the state of every resource in this run's costed findings.

    A resource seen for the first time starts with ``first_seen_dormant =
    seen_at``; a known one keeps it and gets ``last_seen_dormant``, kind,
    subject, department, cost, ``last_run_id`` and the ``status`` column of
    ``costed`` refreshed. Resources in ``notified_ids`` (ids not in ``costed``
    are ignored) also get ``last_notified_at = notified_at``, one more
    ``notify_count`` and status ``notified``. The cycle dates
    (``first_notified_on``, ``reminded_on``, ``escalated_on``; UTC midnights)
    are written as ``costed`` has them when it has those columns. A resource
    stored as ``removed`` that is dormant again starts over: a new
    ``first_seen_dormant`` and no cycle dates. State rows absent from
    ``costed`` are left alone (see :func:`mark_removed`).
    """
    _frames.require_columns(costed, (*_STATE_INPUT, "annual_cost_cents", "status"), "costed")
    _frames.require_values(costed, (*_STATE_INPUT, "status"), "costed findings")
    if costed["resource_id"].duplicated().any():
        raise ValueError("costed findings list a resource more than once")
    seen = _frames.aware_utc(seen_at, "seen_at")
    notified = model.isin(costed["resource_id"], list(set(notified_ids)))
    told_at: datetime | None = None
    if notified.any():
        if notified_at is None:
            raise ValueError("notified_at is required when resources were notified")
        told_at = _frames.aware_utc(notified_at, "notified_at")

    count = len(costed)
    status = _frames.python_values(costed["status"])
    columns: dict[str, list[Any]] = {
        name: _frames.python_values(costed[name]) for name in (*_STATE_INPUT, "annual_cost_cents")
    }
    columns.update(
        first_seen_dormant=[seen] * count,
        last_seen_dormant=[seen] * count,
        last_run_id=[run_id] * count,
        removed_at=[None] * count,
        status=[
            model.FindingStatus.NOTIFIED.value if told else s
            for told, s in zip(notified.tolist(), status, strict=True)
        ],
        last_notified_at=[told_at if told else None for told in notified.tolist()],
        notify_count=[1 if told else 0 for told in notified.tolist()],
    )
    for name in CYCLE:
        columns[name] = _days(costed[name]) if name in costed.columns else [None] * count
    statement = _upsert(session)
    names = list(columns)
    for start in range(0, count, UPSERT_BATCH):
        end = start + UPSERT_BATCH
        bulk.execute_columns(session, statement, names, [columns[n][start:end] for n in names])


def _days(series: pd.Series) -> list[date | None]:
    return [None if v is None else v.date() for v in _frames.python_values(series)]


def _upsert(session: Session) -> Insert:
    """INSERT … ON CONFLICT (resource_id) DO UPDATE, in the session's dialect."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg = postgresql.insert(RESOURCE_STATE)
        return pg.on_conflict_do_update(
            index_elements=[RESOURCE_STATE.c.resource_id], set_=_on_conflict(pg.excluded)
        )
    if dialect == "sqlite":
        lite = sqlite.insert(RESOURCE_STATE)
        return lite.on_conflict_do_update(
            index_elements=[RESOURCE_STATE.c.resource_id], set_=_on_conflict(lite.excluded)
        )
    raise ValueError(f"no upsert for the {dialect} dialect")


def _on_conflict(excluded: Any) -> Mapping[str, Any]:
    # A known resource keeps first_seen_dormant, unless it had been removed and is back.
    t = RESOURCE_STATE.c
    back = t.status == model.FindingStatus.REMOVED.value
    return {
        "first_seen_dormant": case((back, excluded.first_seen_dormant), else_=t.first_seen_dormant),
        **{name: case((back, None), else_=excluded[name]) for name in CYCLE},
        "resource_kind": excluded.resource_kind,
        "subject": excluded.subject,
        "department": excluded.department,
        "last_seen_dormant": excluded.last_seen_dormant,
        "last_run_id": excluded.last_run_id,
        "last_notified_at": func.coalesce(excluded.last_notified_at, t.last_notified_at),
        "notify_count": t.notify_count + excluded.notify_count,
        "status": excluded.status,
        "removed_at": None,
        "annual_cost_cents": excluded.annual_cost_cents,
    }


@storage_operation("mark removed resources")
def mark_removed(session: Session, ids: Collection[str], *, removed_at: datetime) -> int:
    """Mark the dormant (or kept) ``ids`` as ``removed`` at ``removed_at``; returns how many.

    Their last known annual cost then counts as realized savings from that time.
    """
    at = _frames.aware_utc(removed_at, "removed_at")
    t = RESOURCE_STATE.c
    live = (*DORMANT, model.FindingStatus.KEPT.value)
    changed = 0
    for chunk in _frames.batched(sorted(set(ids)), LOOKUP_BATCH):
        result = session.execute(
            update(RESOURCE_STATE)
            .where(t.resource_id.in_(chunk), t.status.in_(live))
            .values(status=model.FindingStatus.REMOVED.value, removed_at=at)
        )
        changed += int(getattr(result, "rowcount", 0) or 0)
    return changed


@storage_operation("read the resource state")
def absent_since_last_run(session: Session, present_ids: Collection[str] | pd.Series) -> list[str]:
    """Ids stored as dormant or kept that are not among ``present_ids``, sorted.

    Compared case-folded (directory ids may come back in another case). One
    scan of the live state; :func:`mark_removed` takes the result. The ids
    stored exactly as pulled (nearly all) are set aside first, by a hash join
    in Arrow; only when some are left is the whole pull folded to compare them.
    """
    t = RESOURCE_STATE.c
    live = (*DORMANT, model.FindingStatus.KEPT.value)
    stored = model.text(list(session.scalars(select(t.resource_id).where(t.status.in_(live)))))
    present = model.text(present_ids).dropna()
    left = stored[~model.isin(stored, present)]
    if left.empty:
        return []
    gone = ~model.isin(model.norm_key(left), model.norm_key(present))
    return sorted(left[gone].tolist())


@storage_operation("read the findings a decision may be about")
def decidable_findings(session: Session) -> pd.DataFrame:
    """Dormant or kept resources: ``resource_id, subject, department, status`` (all text).

    What a returned answer file is checked against (``answer_file.KNOWN_COLUMNS``).
    """
    s = RESOURCE_STATE.c
    live = (*DORMANT, model.FindingStatus.KEPT.value)
    rows = session.execute(
        select(s.resource_id, s.subject, s.department, s.status).where(s.status.in_(live))
    ).all()
    columns = ["resource_id", "subject", "department", "status"]
    return model.conform(
        pd.DataFrame(rows, columns=columns), {name: model.STRING for name in columns}
    )


@storage_operation("read the annual costs")
def annual_costs(session: Session, resource_ids: Collection[str]) -> dict[str, int]:
    """The last known annual cost in cents of each of ``resource_ids`` that has a state."""
    s = RESOURCE_STATE.c
    found: dict[str, int] = {}
    for chunk in _frames.batched(list(dict.fromkeys(resource_ids)), 900):
        query = select(s.resource_id, s.annual_cost_cents).where(s.resource_id.in_(chunk))
        for rid, cents in session.execute(query):
            found[str(rid)] = int(cents or 0)
    return found
