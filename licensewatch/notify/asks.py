"""What an email asks and what happens without an answer: the deadline and the next step.

The notification cycle may say it per row (columns ``deadline``,
``next_step`` and ``next_step_on``, as dates and a step name); when it does
not, they are worked out here from ``[mail]``: the deadline is ``as_of +
response_days``; a new item is reminded ``reminder_days`` after its first
notice; an item already asked about is escalated ``escalate_after_days``
after it (when ``escalation_to`` is set; else nothing more is sent, and the
email says so). The email states the earliest next step of its rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pandas as pd

from licensewatch.config import MailSettings

#: Step names the templates know (``macros.j2``'s ``next_step``).
STEPS: Final = ("reminder", "overdue", "escalation", "escalation_repeat", "auto_remove", "none")


@dataclass(frozen=True)
class Ask:
    """By when an email's rows are to be answered, and what happens if they are not."""

    deadline: str
    next_step: str
    next_step_on: str
    xlsx: str
    csv: str


def _day(value: object) -> str:
    return f"{value:%Y-%m-%d}" if isinstance(value, pd.Timestamp) and not pd.isna(value) else ""


def _given(rows: pd.DataFrame) -> tuple[str, str, str] | None:
    """The cycle's own deadline and next step, when the rows carry them."""
    if not {"deadline", "next_step", "next_step_on"} <= set(rows.columns):
        return None
    known = rows[rows["next_step"].notna()]
    if known.empty:
        return None
    on = pd.to_datetime(known["next_step_on"], utc=True)
    first = known.loc[on.sort_values(kind="stable").index[0]]
    deadlines = pd.to_datetime(rows["deadline"], utc=True).dropna()
    deadline = _day(deadlines.min()) if len(deadlines) else ""
    return deadline, str(first["next_step"]), _day(pd.Timestamp(first["next_step_on"]))


def ask(
    rows: pd.DataFrame, kind: str, as_of: pd.Timestamp, mail: MailSettings, files: tuple[str, str]
) -> Ask:
    """The deadline and next step of an email of ``kind`` about ``rows`` (see the module)."""
    xlsx, csv = files
    given = _given(rows)
    if given is not None:
        deadline, step, on = given
        fallback = as_of + pd.Timedelta(days=mail.response_days)
        return Ask(deadline or _day(fallback), step, on, xlsx, csv)
    deadline = _day(as_of + pd.Timedelta(days=mail.response_days))
    asked = pd.to_datetime(rows["asked_on"], utc=True)
    steps: list[tuple[pd.Timestamp, str]] = []
    if kind != "escalation":
        if (rows["cycle"] == "new").any():
            steps.append((as_of + pd.Timedelta(days=mail.reminder_days), "reminder"))
        if mail.escalation_to and asked.notna().any():
            steps.append((asked.min() + pd.Timedelta(days=mail.escalate_after_days), "escalation"))
    later = [(day, step) for day, step in steps if day > as_of]
    if not later:
        return Ask(deadline, "none", "", xlsx, csv)
    day, step = min(later)
    return Ask(deadline, step, _day(day), xlsx, csv)
