"""The cycle as a focal point and the committee read it: the next step, the deadline, sections.

Every message gets ``deadline`` (the day to answer by), ``next_step`` (what
happens if there is no answer, in the message's language) and
``next_step_on`` (when), true for the configured numbers
(:mod:`licensewatch.rules.next_step`), plus ``escalation_on`` and the count
of each section (``new_count``, ``reminder_count``, ``overdue_count``,
``escalated_count``, ``auto_removed_count``).
"""

from __future__ import annotations

from typing import Any, Final

import pandas as pd

from licensewatch.rules import cadence
from licensewatch.rules.cadence import Rules
from licensewatch.rules.next_step import next_step

_TEXT: Final[dict[str, dict[str, str]]] = {
    "en": {
        "reminder": "we send you a reminder",
        "overdue": "the items are past their deadline: we write to you again (overdue notice)",
        "escalation": "the items still unanswered are reported to the ICT steering committee",
        "escalation_quiet": "we write to you again about the items still unanswered",
        "escalation_repeat": "the items still unanswered are reported to the ICT steering "
        "committee again",
        "escalation_repeat_quiet": "we write to you again about the items still unanswered",
        "auto_remove": "the licences of separated staff still unanswered go on the removal list "
        "(rule auto_remove_after_days, without a further decision)",
        "": "nothing more: every item listed has an answer",
    },
    "fr": {
        "reminder": "nous vous envoyons un rappel",
        "overdue": "le délai est dépassé\u00a0: nous vous écrivons à nouveau (avis de retard)",
        "escalation": "les éléments toujours sans réponse sont signalés au comité de pilotage "
        "des TIC",
        "escalation_quiet": "nous vous écrivons à nouveau au sujet des éléments sans réponse",
        "escalation_repeat": "les éléments toujours sans réponse sont à nouveau signalés au "
        "comité de pilotage des TIC",
        "escalation_repeat_quiet": "nous vous écrivons à nouveau au sujet des éléments sans "
        "réponse",
        "auto_remove": "les licences du personnel parti toujours sans réponse sont mises sur la "
        "liste de retrait (règle auto_remove_after_days, sans autre décision)",
        "": "plus rien : chaque élément listé a une réponse",
    },
}


def _day(value: pd.Timestamp | None) -> str:
    return "" if value is None or pd.isna(value) else f"{value:%Y-%m-%d}"


def step_text(step: str, rules: Rules, language: str) -> str:
    """The words of a next-step code in ``language`` (English unless ``fr``)."""
    table = _TEXT.get(language, _TEXT["en"])
    quiet = step in ("escalation", "escalation_repeat") and not rules.escalate
    return table[f"{step}_quiet" if quiet else step]


def cycle_context(
    planned: pd.DataFrame, rules: Rules, as_of: pd.Timestamp, language: str
) -> dict[str, Any]:
    """The cycle's template variables of one message about the ``planned`` rows told today."""
    day = as_of.normalize()
    cycles = planned["cycle"].astype("string")
    deadlines = planned["deadline"].dropna() if "deadline" in planned else pd.Series(dtype=object)
    ahead = deadlines[deadlines >= day]
    deadline = ahead.min() if len(ahead) else (deadlines.min() if len(deadlines) else None)
    nxt = next_step(planned, rules, as_of)
    return {
        "deadline": _day(deadline),
        "past_deadline": bool(len(deadlines)) and not len(ahead),
        "next_step": step_text(nxt.step, rules, language),
        "next_step_code": nxt.step,
        "next_step_on": _day(nxt.on),
        "escalation_on": _day(nxt.escalation_on) if rules.escalate else "",
        "escalates": rules.escalate,
        "response_days": rules.response_days,
        "escalate_every_days": rules.escalate_every_days,
        "auto_remove_days": rules.auto_remove_after_days,
        "new_count": int((cycles == cadence.NEW).sum()),
        "reminder_count": int((cycles == cadence.REMINDER).sum()),
        "overdue_count": int((cycles == cadence.OVERDUE).sum()),
        "escalated_count": int((cycles == cadence.ESCALATION).sum()),
        "auto_removed_count": int((cycles == cadence.AUTO_REMOVE).sum()),
    }
