"""The notification cycle of each finding: it is chased until it is answered or gone.

Pure: frames in, frames out, ``as_of`` passed in. A finding's cycle starts
when its department's focal points are first told about it
(``first_notified_on``); its deadline is ``response_days`` later. Unanswered,
it goes into

1. a **reminder** ``reminder_days`` after the first notice (before the
   deadline: ``reminder_days < response_days``; a weekly cadence reminds on
   the last send day before the deadline at the latest);
2. an **overdue** notice to the focal points the first send day after the deadline;
3. an **escalation** ``escalate_after_days`` after the first notice: the
   focal points get an overdue notice and the steering committee its digest;
4. a **repeated escalation** every ``escalate_every_days`` after the last one,
   until the finding is answered or gone;
5. optionally (``auto_remove_after_days``), the licences of SEPARATED
   accounts still unanswered that many days after the first escalation are
   put on the removal list by the rule (cycle ``auto_remove``).

With ``escalate = false`` step 3 and 4 still chase the focal points (overdue
notices), only the committee digest is not sent. A step whose day passed while
the job did not run is taken on the next run (a missed reminder is skipped once
the deadline passed). With a weekly cadence nothing is due on other days than
the send day (new findings accumulate), except on a new deployment's first run.

A decision answers a finding: ``remove`` takes it off the cycle; ``keep``
suppresses it until ``keep_until`` (status ``kept``); after that day it starts
a new cycle with a new first notice. Dates older than the cycle's first notice
belong to an earlier cycle.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from licensewatch import model
from licensewatch.config import MailSettings, Policy
from licensewatch.cycle_config import WEEKDAYS

NEW: Final = "new"
REMINDER: Final = "reminder"
OVERDUE: Final = "overdue"
ESCALATION: Final = "escalation"
AUTO_REMOVE: Final = "auto_remove"
#: Who decided a removal the no-response rule made (``decisions.imported_by``).
RULE: Final = "rule:auto_remove_after_days"
CYCLE_DATES: Final = (
    "first_notified_on",
    "reminded_on",
    "overdue_on",
    "escalated_on",
    "first_escalated_on",
)
#: The cycle date each kind of step sets when it goes out.
_SETS: Final = {
    NEW: ("first_notified_on",),
    REMINDER: ("reminded_on",),
    OVERDUE: ("overdue_on",),
    ESCALATION: ("escalated_on", "overdue_on"),
}


@dataclass(frozen=True)
class Rules:
    """The configured numbers of the cycle (see the module docstring)."""

    response_days: int = 14
    reminder_days: int = 10
    escalate_after_days: int = 28
    escalate_every_days: int = 30
    escalate: bool = True
    #: ``None``: nightly; else the weekday (0 = Monday) of the weekly send day.
    weekly_day: int | None = None
    auto_remove_after_days: int | None = None

    @classmethod
    def of(cls, mail: MailSettings, policy: Policy) -> Rules:
        """The rules of a config's ``[mail]`` and ``[policy]`` tables."""
        weekly = WEEKDAYS.index(mail.weekly_day) if mail.cadence == "weekly" else None
        return cls(
            response_days=mail.response_days,
            reminder_days=mail.reminder_days,
            escalate_after_days=mail.escalate_after_days,
            escalate_every_days=mail.escalate_every_days,
            escalate=mail.escalate,
            weekly_day=weekly,
            auto_remove_after_days=policy.auto_remove_after_days,
        )

    def sends_on(self, day: pd.Timestamp) -> bool:
        """True when focal points may be written to on ``day`` (every day when nightly)."""
        return self.weekly_day is None or day.weekday() == self.weekly_day

    def send_day(self, day: pd.Timestamp) -> pd.Timestamp:
        """The first day on or after ``day`` on which messages go out."""
        if self.weekly_day is None:
            return day
        return day + pd.Timedelta(days=(self.weekly_day - day.weekday()) % 7)

    @property
    def gap(self) -> int:
        """Days between two send days."""
        return 1 if self.weekly_day is None else 7


def _column(frame: pd.DataFrame, ids: pd.Series, column: str, dtype: Any) -> pd.Series:
    """``frame[column]`` looked up by resource id, aligned with ``ids`` (NA where absent)."""
    if frame.empty or column not in frame.columns:
        empty: pd.Series = pd.Series(pd.NA, index=ids.index, dtype=dtype)
        return empty
    lookup = frame.drop_duplicates("resource_id").set_index("resource_id")[column]
    found: pd.Series = ids.map(lookup).astype(dtype)
    return found


def _not_yet(done_on: pd.Series, cycle_start: pd.Series) -> pd.Series:
    """True where ``done_on`` did not happen in the current cycle."""
    return (done_on.isna() | (done_on < cycle_start)).fillna(True).astype(bool)


def _b(series: pd.Series) -> np.ndarray:
    return np.asarray(series.fillna(False).to_numpy(bool))


def separated_licence(costed: pd.DataFrame) -> pd.Series:
    reasons = ";" + costed["reasons"].astype(model.STRING).fillna("") + ";"
    separated = reasons.str.contains(f";{model.Reason.SEPARATED.value};", regex=False)
    licence = costed["resource_kind"] == model.ResourceKind.LICENSE.value
    return (separated & licence).fillna(False).astype(bool)


def _steps(
    costed: pd.DataFrame, dates: dict[str, pd.Series], open_: pd.Series, restart: pd.Series,
    day: pd.Timestamp, rules: Rules, send: bool,
) -> np.ndarray:  # fmt: skip
    """The step due today per finding (``""`` when nothing is due)."""
    first = dates["first_notified_on"]
    in_cycle = _b(open_ & ~restart) & send
    waited = (day - first).dt.days
    escalated, first_esc = dates["escalated_on"], dates["first_escalated_on"]
    never_escalated = _not_yet(first_esc, first)
    escalation = in_cycle & (
        _b(never_escalated & (waited >= rules.escalate_after_days))
        | _b(~never_escalated & ((day - escalated).dt.days >= rules.escalate_every_days))
    )
    auto = np.zeros(len(costed), dtype=bool)
    if rules.auto_remove_after_days is not None:
        since = (day - first_esc).dt.days
        auto = in_cycle & _b(~never_escalated & (since >= rules.auto_remove_after_days))
        auto &= _b(separated_licence(costed))
    overdue = in_cycle & _b(_not_yet(dates["overdue_on"], first) & (waited > rules.response_days))
    window = (waited >= rules.reminder_days) | (waited + rules.gap >= rules.response_days)
    reminder = in_cycle & _b(
        _not_yet(dates["reminded_on"], first)
        & _not_yet(dates["overdue_on"], first)
        & never_escalated
        & window
        & (waited >= 1)
        & (waited < rules.response_days)
    )
    new = _b(open_ & restart) & send
    steps: np.ndarray = np.select(
        [new, auto, escalation, overdue, reminder],
        [NEW, AUTO_REMOVE, ESCALATION, OVERDUE, REMINDER],
        default="",
    )
    return steps


def plan(
    costed: pd.DataFrame,
    state: pd.DataFrame,
    decisions: pd.DataFrame,
    *,
    as_of: pd.Timestamp,
    rules: Rules,
    first_run: bool = False,
) -> pd.DataFrame:
    """``costed`` with each finding's ``status``, ``cycle``, deadline and cycle dates.

    ``state`` has ``resource_id`` and the :data:`CYCLE_DATES` (UTC midnights;
    absent columns count as never); ``decisions`` has ``resource_id, decision,
    keep_until``. Adds ``status`` (``new``, ``notified`` or ``kept``),
    ``cycle`` (``new``, ``reminder``, ``overdue``, ``escalation``,
    ``auto_remove`` or NA: nothing due today), ``decision``, ``keep_until``,
    ``deadline`` (the day to answer by) and the cycle dates as stored.
    ``first_run``: the deployment has never sent anything, so today is a send
    day whatever the cadence.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be a timezone-aware UTC timestamp")
    day = as_of.normalize()
    ids = costed["resource_id"]
    dates = {c: _column(state, ids, c, model.DATETIME) for c in CYCLE_DATES}
    first = dates["first_notified_on"]
    decision = _column(decisions, ids, "decision", model.STRING)
    keep_until = _column(decisions, ids, "keep_until", model.DATETIME)

    keeping = (decision == "keep") & (keep_until >= day)
    removing = decision == "remove"
    expired_keep = (decision == "keep") & (keep_until < day)
    open_ = ~(keeping.fillna(False) | removing.fillna(False))
    restart = first.isna() | (expired_keep & (first <= keep_until)).fillna(False)
    send = first_run or rules.sends_on(day)
    steps = _steps(costed, dates, open_, restart, day, rules, send)
    cycle = pd.Series(steps, index=costed.index).replace("", pd.NA).astype(model.STRING)
    starts = first.where(~restart, day if send else pd.NaT).astype(model.DATETIME)
    deadline = (starts + pd.Timedelta(days=rules.response_days)).astype(model.DATETIME)
    status = np.where(
        _b(keeping),
        model.FindingStatus.KEPT.value,
        np.where(_b(open_ & restart), model.FindingStatus.NEW.value, "notified"),
    )
    auto = _b(cycle == AUTO_REMOVE)
    decision = decision.mask(auto, "remove")
    return costed.assign(
        status=pd.array(status, dtype=model.STRING),
        cycle=cycle,
        decision=decision,
        keep_until=keep_until,
        deadline=deadline,
        **{name: dates[name] for name in CYCLE_DATES},
    )


def auto_removals(planned: pd.DataFrame) -> pd.DataFrame:
    """The findings the no-response rule puts on the removal list today."""
    return planned[_b(planned["cycle"] == AUTO_REMOVE)]


def mark_told(planned: pd.DataFrame, told: Collection[str], as_of: pd.Timestamp) -> pd.DataFrame:
    """Record that the findings ``told`` went out today, each for its ``cycle``.

    A new finding gets ``first_notified_on`` (and status ``notified``), a
    reminded one ``reminded_on``, an overdue one ``overdue_on``, an escalated
    one ``escalated_on`` (and ``first_escalated_on`` the first time in its cycle).
    """
    day = as_of.normalize()
    hit = model.isin(planned["resource_id"], list(told))
    out = planned.copy()
    for cycle, columns in _SETS.items():
        rows = hit & _b(planned["cycle"] == cycle)
        for column in columns:
            out.loc[rows, column] = day
    escalated = hit & _b(planned["cycle"] == ESCALATION)
    first_time = escalated & _b(
        _not_yet(planned["first_escalated_on"], planned["first_notified_on"])
    )
    out.loc[first_time, "first_escalated_on"] = day
    told_new = hit & _b(planned["cycle"] == NEW)
    out.loc[told_new, "status"] = model.FindingStatus.NOTIFIED.value
    return out
