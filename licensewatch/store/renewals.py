"""Which renewal notices finance was sent (table ``renewal_notices``, migration 0006).

One row per subscription, renewal date and stage (``horizon``: the renewal
entered ``[finance] renewal_horizon_days``; ``30 days``: 30 days or fewer
left). A notice is queued in the outbox in the run's transaction together with
its row, so a re-run never sends it twice. Functions here flush; callers commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Final

from sqlalchemy import CheckConstraint, Date, Table, Text, UniqueConstraint, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from licensewatch.store.db import storage_operation
from licensewatch.store.tables import Base, BigKey

HORIZON: Final = "horizon"
THIRTY_DAYS: Final = "30 days"
STAGES: Final = (HORIZON, THIRTY_DAYS)


class RenewalNotice(Base):
    """One renewal notice queued for finance."""

    __tablename__ = "renewal_notices"
    __table_args__ = (
        CheckConstraint("stage IN ('horizon', '30 days')", name="stage"),
        UniqueConstraint("subscription_id", "renews_on", "stage"),
    )

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(Text)
    renews_on: Mapped[date] = mapped_column(Date)
    stage: Mapped[str] = mapped_column(Text)
    queued_on: Mapped[date] = mapped_column(Date)


RENEWAL_NOTICES: Final[Table] = Base.metadata.tables["renewal_notices"]


@storage_operation("read the renewal notices sent")
def sent_renewal_notices(session: Session) -> set[tuple[str, date, str]]:
    """(subscription id, renewal date, stage) of every renewal notice queued so far."""
    t = RENEWAL_NOTICES.c
    rows = session.execute(select(t.subscription_id, t.renews_on, t.stage)).all()
    return {(str(s), d, str(stage)) for s, d, stage in rows}


@storage_operation("record the renewal notices")
def record_renewal_notices(
    session: Session, notices: Iterable[tuple[str, date, str]], *, queued_on: date
) -> None:
    """Record renewal notices as queued (with the outbox message, in the same transaction)."""
    rows = [
        {"subscription_id": s, "renews_on": d, "stage": stage, "queued_on": queued_on}
        for s, d, stage in notices
    ]
    if rows:
        session.execute(insert(RENEWAL_NOTICES), rows)
        session.flush()
