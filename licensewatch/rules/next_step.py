"""What happens next to a finding told today if nobody answers, and on which day.

Pure, from the configured numbers (:class:`licensewatch.rules.cadence.Rules`)
and the finding's cycle dates, so that every email can state the next step
and its date truthfully. Codes: ``reminder``, ``overdue``, ``escalation``
(the committee is told; with ``escalate = false`` the focal points are written
to again), ``escalation_repeat``, ``auto_remove`` (the rule puts a separated
account's licence on the removal list) and ``""`` (nothing: it is decided).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pandas as pd

from licensewatch.rules import cadence
from licensewatch.rules.cadence import Rules

STEPS: Final = ("reminder", "overdue", "escalation", "escalation_repeat", "auto_remove")


@dataclass(frozen=True)
class NextStep:
    """The next step of a message's findings: the soonest of them, and the escalation day."""

    step: str
    on: pd.Timestamp | None
    #: The first day an item of the message is (or was) escalated, if the cycle escalates.
    escalation_on: pd.Timestamp | None


def _after(rules: Rules, day: pd.Timestamp, when: pd.Timestamp) -> pd.Timestamp:
    """The send day on or after ``when``, and after ``day``."""
    return rules.send_day(max(when, day + pd.Timedelta(days=1)))


def _escalation(rules: Rules, day: pd.Timestamp, first: pd.Timestamp) -> pd.Timestamp:
    return _after(rules, day, first + pd.Timedelta(days=rules.escalate_after_days))


def step_of(
    rules: Rules,
    cycle: str,
    day: pd.Timestamp,
    first: pd.Timestamp,
    first_escalated: pd.Timestamp | None,
    separated_licence: bool,
) -> tuple[str, pd.Timestamp | None]:
    """The next step after today's ``cycle`` step of one finding first notified on ``first``."""
    days = pd.Timedelta(days=1)
    if cycle == cadence.NEW:
        earliest = rules.reminder_days
        if rules.weekly_day is not None:
            earliest = min(earliest, rules.response_days - rules.gap)
        on = _after(rules, day, first + earliest * days)
        if (on - first).days < rules.response_days:
            return "reminder", on
        cycle = cadence.REMINDER
    if cycle == cadence.REMINDER:
        return "overdue", _after(rules, day, first + (rules.response_days + 1) * days)
    if cycle == cadence.OVERDUE:
        return "escalation", _escalation(rules, day, first)
    if cycle == cadence.ESCALATION:
        repeat = _after(rules, day, day + rules.escalate_every_days * days)
        if rules.auto_remove_after_days is not None and separated_licence:
            start = first_escalated if first_escalated is not None else day
            auto = _after(rules, day, start + rules.auto_remove_after_days * days)
            if auto <= repeat:
                return "auto_remove", auto
        return "escalation_repeat", repeat
    return "", None


def _stamp(value: object) -> pd.Timestamp | None:
    if isinstance(value, pd.Timestamp) and not pd.isna(value):
        return value
    return None


def next_step(rows: pd.DataFrame, rules: Rules, as_of: pd.Timestamp) -> NextStep:
    """The soonest next step among ``rows`` (planned findings told today) and the escalation day.

    The step of a row depends only on its cycle, its two dates and whether it
    is a separated account's licence, so each such combination is worked out
    once (a department's thousands of rows share a handful).
    """
    day = as_of.normalize()
    missing = pd.Series(pd.NaT, index=rows.index, dtype="datetime64[ns, UTC]")
    combos = pd.DataFrame(
        {
            "cycle": rows["cycle"].astype(object),
            "first": rows.get("first_notified_on", missing),
            "escalated": rows.get("first_escalated_on", missing),
            "separated": cadence.separated_licence(rows).to_numpy(bool),
        }
    ).drop_duplicates()
    found: list[tuple[pd.Timestamp, str]] = []
    escalations: list[pd.Timestamp] = []
    for cycle_value, told, escalated, sep in combos.itertuples(index=False, name=None):
        cycle = str(cycle_value)
        first = _stamp(told) if cycle != cadence.NEW else None
        first = day if first is None else first
        first_esc = _stamp(escalated)
        if first_esc is not None and first_esc < first:
            first_esc = None
        step, on = step_of(rules, cycle, day, first, first_esc, bool(sep))
        if on is not None:
            found.append((on, step))
        escalations.append(first_esc or (day if cycle == cadence.ESCALATION else None)
                           or _escalation(rules, day, first))  # fmt: skip
    soonest = min(found, default=None, key=lambda f: (f[0], STEPS.index(f[1])))
    return NextStep(
        step=soonest[1] if soonest else "",
        on=soonest[0] if soonest else None,
        escalation_on=min(escalations) if escalations else None,
    )
