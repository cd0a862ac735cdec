"""The phone registration history between runs (table ``phone_registrations``).

One row per phone of the last pull: when it was first observed, when last seen
registered, its status and since when it has had it. The rules that update it
are pure and live in :mod:`licensewatch.rules.phone_history`; this module only
loads the stored rows and writes the rows that changed (inserts, updates,
deletes; a night in which nothing moved writes nothing), inside the run's
transaction (nothing here commits). Migration ``0002_phone_registrations`` creates the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import numpy as np
import pandas as pd
from sqlalchemy import CheckConstraint, Table, Text, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from licensewatch import model
from licensewatch.logs import get_logger
from licensewatch.rules.phone_history import HISTORY
from licensewatch.store import _frames, bulk
from licensewatch.store.db import storage_operation
from licensewatch.store.tables import Base, UTCDateTime, any_of

#: The canonical registration statuses (licensewatch.model, PHONES.registration_status).
STATUSES: Final = ("registered", "unregistered", "rejected", "partially_registered", "unknown")
log = get_logger(__name__)

#: Rows per insert or update executemany.
INSERT_BATCH: Final = 10_000
#: Keys per DELETE … IN (…).
DELETE_BATCH: Final = 1_000
_REQUIRED: Final = ("device_key", "first_observed_at", "last_status", "status_changed_at")


class PhoneRegistration(Base):
    """What the job has observed of one phone's registration (``device_key``: name case-folded)."""

    __tablename__ = "phone_registrations"
    __table_args__ = (CheckConstraint(any_of("last_status", STATUSES), name="last_status"),)

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
    return bulk.select_frame(
        session, select(*(t[name] for name in HISTORY)).order_by(t.device_key), HISTORY
    )


@dataclass(frozen=True)
class HistoryWrites:
    """How many stored rows one :func:`save_history` inserted, updated and deleted."""

    inserted: int
    updated: int
    deleted: int


def _check(history: pd.DataFrame) -> None:
    _frames.require_columns(history, HISTORY, "registration history rows")
    _frames.require_values(history, _REQUIRED, "registration history rows")
    duplicated = history["device_key"].duplicated()
    if duplicated.any():
        first = history.loc[duplicated, "device_key"].iloc[0]
        raise ValueError(f"registration history lists phone {first} more than once")
    unknown = sorted(set(history["last_status"].dropna().unique()) - set(STATUSES))
    if unknown:
        raise ValueError(f"registration history has unknown statuses: {', '.join(unknown)}")


def changes(
    stored: pd.DataFrame, history: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """What turns ``stored`` into ``history``: rows to insert, rows to update, keys to delete.

    Pure; both are HISTORY frames. A row is updated only when one of its values
    moved (NA equals NA, timestamps compare to the microsecond).
    """
    stored = model.conform(stored, HISTORY)
    merged = history.merge(
        stored, on="device_key", how="left", suffixes=("", "_was"), indicator=True
    )
    known = (merged["_merge"] == "both").to_numpy(bool)
    moved = np.zeros(len(merged), dtype=bool)
    for column in HISTORY:
        if column == "device_key":
            continue
        now, was = merged[column], merged[f"{column}_was"]
        same = now.eq(was).fillna(False).to_numpy(bool) | (now.isna() & was.isna()).to_numpy(bool)
        moved |= ~same
    rows = merged[list(HISTORY)]
    gone = stored.loc[~model.isin(stored["device_key"], history["device_key"]), "device_key"]
    return rows[~known], rows[known & moved], gone.astype(str).tolist()


@storage_operation("save the phone registration history")
def save_history(
    session: Session, history: pd.DataFrame, stored: pd.DataFrame | None = None
) -> HistoryWrites:
    """Make the stored history ``history`` (HISTORY rows, one per device_key), writing only changes.

    Rows of phones no longer in ``history`` are deleted, new phones inserted, and
    a stored row updated only when one of its values moved: a night in which
    nothing changed writes nothing. ``stored`` is the history as loaded earlier in
    the same transaction (:func:`load_history`); it is loaded here when not given.
    """
    _check(history)
    before = load_history(session) if stored is None else stored
    inserted, updated, gone = changes(before, model.conform(history, HISTORY))
    t = PHONE_REGISTRATIONS.c
    for keys in _frames.batched(gone, DELETE_BATCH):
        session.execute(delete(PHONE_REGISTRATIONS).where(t.device_key.in_(list(keys))))
    columns = list(HISTORY)
    # In key order, the rows are appended to the primary key's B-tree instead of landing
    # all over it (929,600 rows of random keys: 1.7 s sorted, 3.0 s not, on SQLite).
    inserted = inserted.sort_values("device_key", kind="stable")
    bulk.insert_frame(session, PHONE_REGISTRATIONS, inserted, columns)
    for rows in _frames.batched(_frames.records(updated, columns), INSERT_BATCH):
        # ORM bulk UPDATE by primary key: one executemany per batch.
        session.execute(update(PhoneRegistration), list(rows))
    writes = HistoryWrites(len(inserted), len(updated), len(gone))
    log.info(
        "registration history: %d phones added, %d changed, %d gone, %d unchanged",
        writes.inserted,
        writes.updated,
        writes.deleted,
        len(history) - writes.inserted - writes.updated,
    )
    return writes
