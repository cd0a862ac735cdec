"""The ``[mail]`` keys of the notification cycle and ``[policy] auto_remove_after_days``, checked.

Kept apart from :mod:`licensewatch.config` (which calls it) so the cycle's
numbers are validated together: ``1 <= reminder_days < response_days <
escalate_after_days`` (the reminder goes out before the deadline, the
escalation after it), ``escalate_every_days >= 1``, ``cadence`` nightly or
weekly with a ``weekly_day``. A bad value is a ``ConfigError`` naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from licensewatch.errors import ConfigError
from licensewatch.options import typed

CADENCES: Final = ("nightly", "weekly")
WEEKDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: The keys this module reads from ``[mail]``.
CYCLE_KEYS: Final = (
    "response_days",
    "reminder_days",
    "escalate_after_days",
    "escalate_every_days",
    "escalate",
    "cadence",
    "weekly_day",
)


def _int(t: Mapping[str, Any], key: str, default: int, least: int) -> int:
    value = int(typed("[mail]", key, t.get(key, default), int))
    if value < least:
        raise ConfigError(f"[mail] {key} must be {least} or more, not {value}")
    return value


def cycle_options(t: Mapping[str, Any]) -> dict[str, Any]:
    """The cycle's keyword arguments of ``MailSettings`` from the ``[mail]`` table ``t``."""
    response = _int(t, "response_days", 14, 1)
    reminder = _int(t, "reminder_days", min(10, response - 1), 1)
    if reminder >= response:
        raise ConfigError(
            f"[mail] reminder_days must be less than response_days, not {reminder} "
            f"(response_days = {response}): the reminder goes out before the deadline",
            hint=f"set reminder_days = {max(response - 4, 1)} or raise response_days",
        )
    escalate_after = _int(t, "escalate_after_days", max(28, response + 1), 1)
    if escalate_after <= response:
        raise ConfigError(
            f"[mail] escalate_after_days must be more than response_days, not {escalate_after} "
            f"(response_days = {response}): the escalation comes after the deadline",
            hint=f"set escalate_after_days = {2 * response}",
        )
    cadence = typed("[mail]", "cadence", t.get("cadence", "nightly"), str)
    if cadence not in CADENCES:
        raise ConfigError(f"[mail] cadence must be one of {', '.join(CADENCES)}, not {cadence!r}")
    day = str(typed("[mail]", "weekly_day", t.get("weekly_day", "monday"), str)).casefold()
    if day not in WEEKDAYS:
        raise ConfigError(
            f"[mail] weekly_day must be one of {', '.join(WEEKDAYS)}, not {t['weekly_day']!r}"
        )
    return {
        "response_days": response,
        "reminder_days": reminder,
        "escalate_after_days": escalate_after,
        "escalate_every_days": _int(t, "escalate_every_days", 30, 1),
        "escalate": bool(typed("[mail]", "escalate", t.get("escalate", True), bool)),
        "cadence": cadence,
        "weekly_day": day,
    }


def auto_remove_after_days(t: Mapping[str, Any]) -> int | None:
    """``[policy] auto_remove_after_days`` (``None``: the rule is off, the default)."""
    value = t.get("auto_remove_after_days")
    if value is None:
        return None
    days = int(typed("[policy]", "auto_remove_after_days", value, int))
    if days < 1:
        raise ConfigError(f"[policy] auto_remove_after_days must be 1 or more, not {days}")
    return days
