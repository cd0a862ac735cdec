"""The phone registration history between runs (table ``phone_registrations``).

One row per phone of the last pull: when it was first observed, when last seen
registered, its status and since when it has had it. The rules that update it
are pure and live in :mod:`licensewatch.rules.phone_history`; this module only
loads the stored rows and replaces them, inside the run's transaction (nothing
here commits). Migration ``0002_phone_registrations`` creates the table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import pandas as pd
from sqlalchemy import CheckConstraint, Table, Text, delete, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from licensewatch.rules.phone_history import HISTORY
from licensewatch.store import _frames
from licensewatch.store.db import storage_operation
from licensewatch.store.tables import Base, UTCDateTime

#: The canonical registration statuses (licensewatch.model, PHONES.registration_status).
STATUSES: Final = ("registered", "unregistered", "rejected", "partially_registered", "unknown")
#: Rows per insert executemany.
INSERT_BATCH: Final = 10_000
_REQUIRED: Final = ("device_key", "first_observed_at", "last_status", "status_changed_at")


class PhoneRegistration(Base):
    """What the job has observed of one phone's registration (``device_key``: name case-folded)."""

    __tablename__ = "phone_registrations"
    __table_args__ = (
        CheckConstraint(
            "last_status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")", name="last_status"
        ),
    )

    device_key: Mapped[str] = mapped_column(Text, primary_key=True)
    first_observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str] = mapped_column(Text)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


PHONE_REGISTRATIONS: Final[Table] = Base.metadata.tables["phone_registrations"]


@storage_operation("read the phone registration history")
def load_history(session: Session) -> pd.DataFrame:
    """Every stored row, as a :data:`~licensewatch.rules.phone_history.HISTORY` frame."""
    t = PHONE_REGISTRATIONS.c
    rows = session.execute(select(*(t[name] for name in HISTORY)).order_by(t.device_key)).all()
    return _frames.frame_of(rows, HISTORY)


@storage_operation("save the phone registration history")
def save_history(session: Session, history: pd.DataFrame) -> None:
    """Replace the stored history with ``history`` (a HISTORY frame, one row per device_key)."""
    _frames.require_columns(history, HISTORY, "registration history rows")
    _frames.require_values(history, _REQUIRED, "registration history rows")
    duplicated = history["device_key"].duplicated()
    if duplicated.any():
        first = history.loc[duplicated, "device_key"].iloc[0]
        raise ValueError(f"registration history lists phone {first} more than once")
    unknown = sorted(set(history["last_status"].dropna()) - set(STATUSES))
    if unknown:
        raise ValueError(f"registration history has unknown statuses: {', '.join(unknown)}")
    session.execute(delete(PHONE_REGISTRATIONS))
    rows = _frames.records(history, list(HISTORY))
    for chunk in _frames.batched(rows, INSERT_BATCH):
        session.execute(insert(PHONE_REGISTRATIONS), list(chunk))
