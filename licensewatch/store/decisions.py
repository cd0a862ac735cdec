"""Focal points' decisions and the deprovisioning done on them.

``decisions`` keeps every imported decision (history, never updated): the
current decision of a resource is its latest row, and counts only when it was
taken during the resource's current dormancy (on or after
``resource_state.first_seen_dormant``). ``deprovision_actions`` records each
attempt to remove a licence through Graph and its result. Migration ``0003``
creates both. Functions here flush; callers commit.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final

import pandas as pd
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Index,
    Integer,
    Table,
    Text,
    func,
    insert,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from licensewatch import model
from licensewatch.store import _frames
from licensewatch.store.db import storage_operation
from licensewatch.store.tables import RESOURCE_STATE, Base, BigKey, UTCDateTime

#: How a decision came: a focal point's reply, an operator's import, or the no-response rule.
SOURCES: Final = ("mail", "operator", "rule")

#: The current decision of each resource that has one (see :func:`current_decisions`).
CURRENT: Final[model.Schema] = {
    "resource_id": model.STRING,
    "decision": model.STRING,
    "justification": model.STRING,
    "keep_until": model.DATETIME,
    "decided_at": model.DATETIME,
}


class DecisionRecord(Base):
    """One decision of a focal point about one resource, as imported."""

    __tablename__ = "decisions"
    __table_args__ = (
        CheckConstraint("decision IN ('remove', 'keep')", name="decision"),
        CheckConstraint("decision = 'remove' OR keep_until IS NOT NULL", name="keep_until"),
        Index("ix_decisions_resource_id", "resource_id"),
    )

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    resource_id: Mapped[str] = mapped_column(Text)
    department: Mapped[str] = mapped_column(Text)
    decision: Mapped[str] = mapped_column(Text)
    justification: Mapped[str | None] = mapped_column(Text)
    keep_until: Mapped[date | None] = mapped_column(Date)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source_file: Mapped[str] = mapped_column(Text)
    source_row: Mapped[int] = mapped_column(Integer)
    imported_by: Mapped[str] = mapped_column(Text)
    #: Who decided: the sender's address (a reply), "operator (user)" or "rule:<name>".
    decided_by: Mapped[str | None] = mapped_column(Text)
    #: How the decision came: "mail", "operator" or "rule" (migration 0009).
    source: Mapped[str | None] = mapped_column(Text)
    #: The reply's Message-ID when the decision came by mail.
    message_id: Mapped[str | None] = mapped_column(Text)
    #: SHA-256 of the answer file: the same file imported twice is recorded once.
    file_digest: Mapped[str | None] = mapped_column(Text, index=True)


class DeprovisionAction(Base):
    """One attempt to take a resource away (a licence removal through Graph) and its result."""

    __tablename__ = "deprovision_actions"
    __table_args__ = (Index("ix_deprovision_actions_resource_id", "resource_id"),)

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    resource_id: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(Text)


DECISIONS: Final[Table] = Base.metadata.tables["decisions"]
DEPROVISION_ACTIONS: Final[Table] = Base.metadata.tables["deprovision_actions"]


@storage_operation("record the decisions")
def record_decisions(
    session: Session,
    decisions: pd.DataFrame,
    *,
    decided_at: datetime,
    source_file: str,
    imported_by: str,
    decided_by: str | None = None,
    source: str = "operator",
    message_id: str | None = None,
    file_digest: str | None = None,
) -> int:
    """Insert validated decisions; returns how many rows were recorded.

    ``decisions`` has ``resource_id, department, decision, justification,
    keep_until`` (UTC midnight or NA) and ``row`` (the file's row number).
    ``decided_by`` is who decided (default ``imported_by``); ``source`` how the
    decision came ("operator", "mail" or "rule"); ``message_id`` the reply it
    came in; ``file_digest`` the SHA-256 of the file (see :func:`recorded_file`).
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
    _frames.require_columns(
        decisions, ("resource_id", "department", "decision", "keep_until", "row"), "decisions"
    )
    at = _frames.aware_utc(decided_at, "decided_at")
    rows = []
    for r in decisions.to_dict("records"):
        keep_until = r["keep_until"]
        rows.append(
            {
                "resource_id": str(r["resource_id"]),
                "department": str(r["department"]),
                "decision": str(r["decision"]),
                "justification": None if pd.isna(r.get("justification")) else r["justification"],
                "keep_until": None if pd.isna(keep_until) else pd.Timestamp(keep_until).date(),
                "decided_at": at,
                "source_file": source_file,
                "source_row": int(r["row"]),
                "imported_by": imported_by,
                "decided_by": decided_by or imported_by,
                "source": source,
                "message_id": message_id,
                "file_digest": file_digest,
            }
        )
    for chunk in _frames.batched(rows, 10_000):
        session.execute(insert(DECISIONS), list(chunk))
    return len(rows)


@storage_operation("read the decisions")
def recorded_file(session: Session, file_digest: str, department: str) -> datetime | None:
    """When the file with ``file_digest`` was recorded for ``department``, or None if never."""
    d = DECISIONS.c
    found = session.execute(
        select(func.min(d.decided_at)).where(
            d.file_digest == file_digest, d.department == department
        )
    ).scalar()
    if not isinstance(found, datetime):
        return None
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


@storage_operation("read the decisions")
def current_decisions(
    session: Session, resource_ids: Collection[str] | None = None
) -> pd.DataFrame:
    """The latest decision of each resource taken during its current dormancy (:data:`CURRENT`).

    A decision older than the resource's ``first_seen_dormant`` belongs to an
    earlier episode (the resource was removed and came back) and is ignored.
    """
    d = DECISIONS.c
    s = RESOURCE_STATE.c
    latest = select(func.max(d.id).label("id")).group_by(d.resource_id).subquery()
    query = (
        select(d.resource_id, d.decision, d.justification, d.keep_until, d.decided_at)
        .join(latest, latest.c.id == d.id)
        .join(RESOURCE_STATE, s.resource_id == d.resource_id)
        .where(d.decided_at >= s.first_seen_dormant)
        .order_by(d.resource_id)
    )
    rows: list[Any] = []
    if resource_ids is None:
        rows.extend(session.execute(query).all())
    else:
        for chunk in _frames.batched(list(dict.fromkeys(resource_ids)), 900):
            rows.extend(session.execute(query.where(d.resource_id.in_(chunk))).all())
    out = [(r[0], r[1], r[2], _midnight(r[3]), r[4]) for r in rows]
    return _frames.frame_of(out, CURRENT)


def _midnight(day: date | None) -> pd.Timestamp | None:
    return None if day is None else pd.Timestamp(day, tz="UTC")


@storage_operation("record a deprovisioning result")
def record_action(
    session: Session,
    *,
    resource_id: str,
    action: str,
    requested_at: datetime,
    ok: bool,
    detail: str,
    requested_by: str,
) -> None:
    """Record one deprovisioning attempt and its result."""
    session.execute(
        insert(DEPROVISION_ACTIONS),
        {
            "resource_id": resource_id,
            "action": action,
            "requested_at": _frames.aware_utc(requested_at, "requested_at"),
            "ok": ok,
            "detail": detail[:500],
            "requested_by": requested_by,
        },
    )


@storage_operation("read the deprovisioning results")
def last_actions(session: Session, resource_ids: Sequence[str]) -> dict[str, tuple[bool, str]]:
    """The latest deprovisioning result (ok, detail) of each of ``resource_ids`` that has one.

    One query of every resource's latest result, kept for those asked about:
    the latest per resource is found over the whole table either way, and
    asked 900 ids at a time it was found again for each of a 1M night's 223
    batches.
    """
    wanted = set(resource_ids)
    if not wanted:
        return {}
    a = DEPROVISION_ACTIONS.c
    latest = select(func.max(a.id).label("id")).group_by(a.resource_id).subquery()
    query = select(a.resource_id, a.ok, a.detail).join(latest, latest.c.id == a.id)
    found: dict[str, tuple[bool, str]] = {}
    for rid, ok, detail in session.execute(query):
        if rid in wanted:
            found[str(rid)] = (bool(ok), str(detail))
    return found


#: Columns of :func:`decision_list` (``licensewatch decisions list``).
LISTED: Final[model.Schema] = {
    "resource_id": model.STRING,
    "subject": model.STRING,
    "department": model.STRING,
    "decision": model.STRING,
    "keep_until": model.STRING,
    "justification": model.STRING,
    "decided_by": model.STRING,
    "decided_at": model.STRING,
    "source": model.STRING,
}


@storage_operation("list the decisions")
def decision_list(session: Session, department: str | None = None) -> pd.DataFrame:
    """The current decision of every resource that has one (:data:`LISTED`), by department.

    "Current" as :func:`current_decisions` means it: the latest decision taken
    during the resource's current dormancy. ``department`` is compared folded.
    """
    d = DECISIONS.c
    s = RESOURCE_STATE.c
    latest = select(func.max(d.id).label("id")).group_by(d.resource_id).subquery()
    query = (
        select(
            d.resource_id,
            s.subject,
            d.department,
            d.decision,
            d.keep_until,
            d.justification,
            d.decided_by,
            d.decided_at,
            d.source,
            d.imported_by,
        )
        .join(latest, latest.c.id == d.id)
        .join(RESOURCE_STATE, s.resource_id == d.resource_id)
        .where(d.decided_at >= s.first_seen_dormant)
        .order_by(d.department, s.subject, d.resource_id)
    )
    wanted = model.fold_key(department) if department else None
    out = []
    for r in session.execute(query):
        if wanted is not None and model.fold_key(str(r.department)) != wanted:
            continue
        decided_at = r.decided_at if r.decided_at.tzinfo else r.decided_at.replace(tzinfo=UTC)
        out.append(
            (
                r.resource_id,
                r.subject,
                r.department,
                r.decision,
                r.keep_until.isoformat() if r.keep_until else None,
                r.justification,
                r.decided_by or r.imported_by,
                decided_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                r.source or "operator",
            )
        )
    return _frames.frame_of(out, LISTED)
