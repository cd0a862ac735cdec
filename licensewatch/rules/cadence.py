"""The notification cycle of each finding: first notice, reminder, escalation, decisions.

Pure: frames in, frames out, ``as_of`` passed in. A finding's cycle starts
when its department's focal points are first told about it
(``first_notified_on``). If it is still unanswered ``reminder_days`` later it
goes into a reminder, and ``escalate_after_days`` after the first notice into
an escalation, once each per cycle (a reminder or escalation dated before the
cycle's first notice belongs to an earlier cycle). When the job has not run
for a while and both are due, only the escalation goes out.

A focal point's decision answers a finding: ``remove`` takes it off the cycle
(it goes on the deprovisioning list); ``keep`` suppresses it until
``keep_until`` (status ``kept``); after that day it starts a new cycle with a
new first notice.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final

import numpy as np
import pandas as pd

from licensewatch import model

NEW: Final = "new"
REMINDER: Final = "reminder"
ESCALATION: Final = "escalation"
CYCLE_DATES: Final = ("first_notified_on", "reminded_on", "escalated_on")


def _column(frame: pd.DataFrame, ids: pd.Series, column: str, dtype: Any) -> pd.Series:
    """``frame[column]`` looked up by resource id, aligned with ``ids`` (NA where absent)."""
    if frame.empty:
        empty: pd.Series = pd.Series(pd.NA, index=ids.index, dtype=dtype)
        return empty
    lookup = frame.drop_duplicates("resource_id").set_index("resource_id")[column]
    found: pd.Series = ids.map(lookup).astype(dtype)
    return found


def _cycle(
    new: pd.Series, reminder: pd.Series, escalation: pd.Series, *, index: pd.Index
) -> pd.Series:
    """Which message each finding is due (``new``, ``reminder``, ``escalation``) or NA."""
    return pd.Series(
        np.select(
            [new.to_numpy(bool), reminder.fillna(False).to_numpy(bool), escalation.to_numpy(bool)],
            [NEW, REMINDER, ESCALATION],
            default="",
        ),
        index=index,
    ).replace("", pd.NA)


def plan(
    costed: pd.DataFrame,
    state: pd.DataFrame,
    decisions: pd.DataFrame,
    *,
    as_of: pd.Timestamp,
    reminder_days: int,
    escalate_after_days: int,
) -> pd.DataFrame:
    """``costed`` with each finding's ``status``, ``cycle`` and cycle dates.

    ``state`` has ``resource_id`` and the :data:`CYCLE_DATES` (UTC midnights);
    ``decisions`` has ``resource_id, decision, keep_until`` (the current
    decision of each resource). Adds ``status`` (``new``, ``notified`` or
    ``kept``), ``cycle`` (``new``, ``reminder``, ``escalation`` or NA: nothing
    due), ``decision`` and ``keep_until``, and the cycle dates as stored.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be a timezone-aware UTC timestamp")
    day = as_of.normalize()
    ids = costed["resource_id"]
    first, reminded, escalated = (_column(state, ids, c, model.DATETIME) for c in CYCLE_DATES)
    decision = _column(decisions, ids, "decision", model.STRING)
    keep_until = _column(decisions, ids, "keep_until", model.DATETIME)

    keeping = (decision == "keep") & (keep_until >= day)
    removing = decision == "remove"
    expired_keep = (decision == "keep") & (keep_until < day)
    open_ = ~(keeping.fillna(False) | removing.fillna(False))
    restart = first.isna() | (expired_keep & (first <= keep_until)).fillna(False)
    new = open_ & restart
    in_cycle = open_ & ~restart
    waited = (day - first).dt.days
    escalation = in_cycle & _not_yet(escalated, first) & (waited >= escalate_after_days)
    reminder = (
        in_cycle
        & ~escalation
        & _not_yet(reminded, first)
        & _not_yet(escalated, first)
        & (waited >= reminder_days)
    )
    cycle = _cycle(new, reminder, escalation, index=costed.index)
    status = np.where(
        keeping.fillna(False).to_numpy(bool),
        model.FindingStatus.KEPT.value,
        np.where(new.to_numpy(bool), model.FindingStatus.NEW.value, "notified"),
    )
    return costed.assign(
        status=pd.array(status, dtype=model.STRING),
        cycle=cycle.astype(model.STRING),
        decision=decision,
        keep_until=keep_until,
        first_notified_on=first,
        reminded_on=reminded,
        escalated_on=escalated,
    )


def _not_yet(done_on: pd.Series, cycle_start: pd.Series) -> pd.Series:
    """True where ``done_on`` did not happen in the current cycle."""
    return (done_on.isna() | (done_on < cycle_start)).fillna(True).astype(bool)


def mark_told(planned: pd.DataFrame, told: Collection[str], as_of: pd.Timestamp) -> pd.DataFrame:
    """Record that the findings ``told`` went out today, each for its ``cycle``.

    A new finding gets ``first_notified_on`` (and status ``notified``), a
    reminded one ``reminded_on``, an escalated one ``escalated_on``.
    """
    day = as_of.normalize()
    hit = planned["resource_id"].isin(list(told)).to_numpy(bool)
    out = planned.copy()
    for cycle, column in ((NEW, "first_notified_on"), (REMINDER, "reminded_on")):
        rows = hit & (planned["cycle"] == cycle).fillna(False).to_numpy(bool)
        out.loc[rows, column] = day
    rows = hit & (planned["cycle"] == ESCALATION).fillna(False).to_numpy(bool)
    out.loc[rows, "escalated_on"] = day
    told_new = hit & (planned["cycle"] == NEW).fillna(False).to_numpy(bool)
    out.loc[told_new, "status"] = model.FindingStatus.NOTIFIED.value
    return out
