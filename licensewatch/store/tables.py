"""SQLAlchemy models of what licensewatch remembers between runs.

The core tables: ``runs`` (one row per nightly run), ``findings`` (every
run's costed findings: the history behind trends) and ``resource_state`` (one
row per resource ever found dormant: when first seen, when last notified, its
status, notification cycle). Other ``store`` modules declare their own tables
on :class:`Base` (``outbox``, ``decisions``, ``registrations``). Every
change to these models needs a new Alembic revision in ``migrations/versions/``;
a test compares the two.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    MetaData,
    Table,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from licensewatch.model import FindingStatus, ResourceKind

#: Deterministic constraint and index names, so that Alembic autogenerate and
#: batch migrations on SQLite see the same names on every backend.
NAMING_CONVENTION: Final[dict[str, str]] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class RunStatus(StrEnum):
    """How a run ended. ``running`` only while its transaction is open."""

    RUNNING = "running"
    OK = "ok"
    DRY_RUN = "dry_run"
    BRAKED = "braked"
    FAILED = "failed"


def _one_of(column: str, values: type[StrEnum]) -> str:
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return f"{column} IN ({allowed})"


def any_of(column: str, values: Iterable[str]) -> str:
    """A CHECK that ``column`` is one of ``values``, as comparisons joined by OR.

    For the tables a night writes by the hundred thousand rows. SQLite builds
    the list of an ``IN (…)`` check again for every row inserted: the first
    night's 929,600 registration rows took 3.4 s with one such check and 1.6 s
    with the comparisons (NULL passes both, as it passes any CHECK).
    """
    return " OR ".join(f"{column} = '{value}'" for value in values)


class UTCDateTime(TypeDecorator[datetime]):
    """A ``timestamptz`` that takes and gives aware UTC datetimes on every backend.

    PostgreSQL stores an instant and answers in the session's time zone; SQLite
    has no time zone type and would silently drop the offset. Storing UTC and
    tagging results as UTC makes both behave the same; naive input is refused
    because its meaning depends on the machine that wrote it.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; convert aware ones to UTC (naive UTC for SQLite)."""
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: give it a time zone")
        if type(value) is not datetime and hasattr(value, "to_pydatetime"):
            value = value.to_pydatetime()  # a pandas Timestamp: drivers want the plain type
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Tag naive results (SQLite) as UTC; convert aware ones (PostgreSQL) to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


#: JSON on SQLite, JSONB (indexable, compact) on PostgreSQL.
JSONDoc = JSON().with_variant(JSONB(), "postgresql")

#: 64-bit keys on PostgreSQL; SQLite's INTEGER PRIMARY KEY is already 64-bit and
#: is only an autoincrementing rowid when spelled exactly INTEGER.
BigKey = BigInteger().with_variant(Integer(), "sqlite")


class Run(Base):
    """One nightly run: when, for which as-of date, how it ended, what it found."""

    __tablename__ = "runs"
    __table_args__ = (CheckConstraint(_one_of("status", RunStatus), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_key: Mapped[str] = mapped_column(Text, unique=True)
    as_of: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(Text)
    dry_run: Mapped[bool] = mapped_column(Boolean)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    annual_avoidable_cents: Mapped[int] = mapped_column(BigInteger)
    accrued_avoidable_cents: Mapped[int] = mapped_column(BigInteger)
    findings_count: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    #: The run summary (``run_summary.json`` without the per-item warnings); migration 0008.
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)
    #: When retention deleted the run's findings rows, and their totals (0008).
    findings_pruned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pruned_totals: Mapped[dict[str, int] | None] = mapped_column(JSONDoc)


class Finding(Base):
    """One costed finding of one run (the run's history; never updated)."""

    __tablename__ = "findings"
    __table_args__ = (
        CheckConstraint(_one_of("status", FindingStatus), name="status"),
        CheckConstraint(_one_of("resource_kind", ResourceKind), name="resource_kind"),
    )

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    resource_id: Mapped[str] = mapped_column(Text, index=True)
    resource_kind: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    account_id: Mapped[str | None] = mapped_column(Text)
    owner_upn: Mapped[str | None] = mapped_column(Text)
    display_name: Mapped[str | None] = mapped_column(Text)
    department: Mapped[str] = mapped_column(Text)
    reasons: Mapped[str] = mapped_column(Text)
    dormant_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    days_dormant: Mapped[int] = mapped_column(Integer)
    match_key: Mapped[str | None] = mapped_column(Text)
    item: Mapped[str | None] = mapped_column(Text)
    annual_cost_cents: Mapped[int] = mapped_column(BigInteger)
    accrued_cost_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(Text)
    #: Where a licence comes from (migration 0006): the licensing group, and direct too.
    via_group_id: Mapped[str | None] = mapped_column(Text)
    via_group: Mapped[str | None] = mapped_column(Text)
    assigned_directly: Mapped[bool | None] = mapped_column(Boolean)
    #: The owner's HR separation date (SEPARATED findings); migration 0005.
    separation_date: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ResourceState(Base):
    """What is remembered about one resource across runs.

    ``last_run_id`` is deliberately not a foreign key: state must outlive the
    pruning of old runs' history.
    """

    __tablename__ = "resource_state"
    __table_args__ = (
        CheckConstraint(any_of("status", FindingStatus), name="status"),
        CheckConstraint(any_of("resource_kind", ResourceKind), name="resource_kind"),
    )

    resource_id: Mapped[str] = mapped_column(Text, primary_key=True)
    resource_kind: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    department: Mapped[str] = mapped_column(Text)
    first_seen_dormant: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_dormant: Mapped[datetime] = mapped_column(UTCDateTime)
    last_run_id: Mapped[int] = mapped_column(Integer)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notify_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    status: Mapped[str] = mapped_column(Text)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Last known annual cost, kept for realized savings once the resource is removed.
    annual_cost_cents: Mapped[int | None] = mapped_column(BigInteger)
    #: The notification cycle (as-of dates): first notice, reminder, escalation. A
    #: reminder or escalation older than the first notice belongs to an earlier cycle.
    first_notified_on: Mapped[date | None] = mapped_column(Date)
    reminded_on: Mapped[date | None] = mapped_column(Date)
    escalated_on: Mapped[date | None] = mapped_column(Date)
    #: The overdue notice and the first escalation of the cycle (``escalated_on`` is the
    #: last one: escalations repeat); migration 0005.
    overdue_on: Mapped[date | None] = mapped_column(Date)
    first_escalated_on: Mapped[date | None] = mapped_column(Date)


RUNS: Final[Table] = Base.metadata.tables["runs"]
FINDINGS: Final[Table] = Base.metadata.tables["findings"]
RESOURCE_STATE: Final[Table] = Base.metadata.tables["resource_state"]
