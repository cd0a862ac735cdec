"""The notification cycle of a finding, day by day (pure: frames in, frames out)."""

from __future__ import annotations

import pandas as pd
import pytest

from licensewatch import model
from licensewatch.rules import cadence
from licensewatch.rules.cadence import Rules
from licensewatch.rules.next_step import next_step

AS_OF = pd.Timestamp("2026-03-01", tz="UTC")  # a Sunday
IDS = ["license:a:e3", "license:b:e3", "phone:sep1"]
RULES = Rules(response_days=14, reminder_days=10, escalate_after_days=28, escalate_every_days=30)


def day(text: str | None) -> pd.Timestamp | None:
    return None if text is None else pd.Timestamp(text, tz="UTC")


def state(**dates: tuple[str | None, ...]) -> pd.DataFrame:
    rows = [
        {"resource_id": rid, **dict(zip(cadence.CYCLE_DATES, map(day, d), strict=False))}
        for rid, d in dates.items()
    ]
    frame = pd.DataFrame(rows, columns=["resource_id", *cadence.CYCLE_DATES])
    return frame.astype({c: model.DATETIME for c in cadence.CYCLE_DATES})


def decisions(*rows: tuple[str, str, str | None]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [{"resource_id": r, "decision": d, "keep_until": day(k)} for r, d, k in rows],
        columns=["resource_id", "decision", "keep_until"],
    )
    return frame.astype({"keep_until": model.DATETIME})


def costed() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "resource_id": pd.array(IDS, dtype=model.STRING),
            "resource_kind": pd.array(["license", "license", "phone"], dtype=model.STRING),
            "reasons": pd.array(["SEPARATED", "INACTIVE", "SEPARATED"], dtype=model.STRING),
        }
    )


def plan(
    st: pd.DataFrame,
    dec: pd.DataFrame | None = None,
    as_of: str = "2026-03-01",
    rules: Rules = RULES,
    first_run: bool = False,
) -> pd.DataFrame:
    return cadence.plan(
        costed(),
        st,
        dec if dec is not None else decisions(),
        as_of=pd.Timestamp(as_of, tz="UTC"),
        rules=rules,
        first_run=first_run,
    )


def cycles(planned: pd.DataFrame) -> list[object]:
    return [None if pd.isna(c) else c for c in planned["cycle"]]


def chase(rules: Rules, days: int, start: str = "2026-03-02") -> list[tuple[int, str]]:
    """Every step one unanswered finding goes through, told each time: (day number, step)."""
    st = state()
    steps: list[tuple[int, str]] = []
    first = pd.Timestamp(start, tz="UTC")
    for n in range(days):
        today = first + pd.Timedelta(days=n)
        planned = plan(st, as_of=f"{today:%Y-%m-%d}", rules=rules, first_run=n == 0)
        steps += [(n, str(c)) for c in planned["cycle"].iloc[:1].dropna()]
        told = cadence.mark_told(planned, IDS, today)
        st = told[["resource_id", *cadence.CYCLE_DATES]]
    return steps


def test_never_notified_findings_are_new() -> None:
    planned = plan(state())
    assert cycles(planned) == ["new", "new", "new"]
    assert planned["status"].tolist() == ["new"] * 3
    assert planned["deadline"].tolist() == [day("2026-03-15")] * 3


def test_nightly_an_unanswered_item_is_chased_until_the_end() -> None:
    # Reminder before the deadline (day 10 < 14), overdue the day after it, escalation on
    # day 28, then again every 30 days: never silent longer than escalate_every_days.
    assert chase(RULES, 120) == [
        (0, "new"),
        (10, "reminder"),
        (15, "overdue"),
        (28, "escalation"),
        (58, "escalation"),
        (88, "escalation"),
        (118, "escalation"),
    ]


def test_weekly_everything_goes_out_on_the_send_day() -> None:
    weekly = Rules(**{**RULES.__dict__, "weekly_day": 0})  # Mondays; 2026-03-02 is one
    steps = chase(weekly, 120)
    assert steps == [
        (0, "new"),
        (7, "reminder"),  # the last Monday before the deadline (day 14)
        (21, "overdue"),
        (28, "escalation"),
        (63, "escalation"),  # 30 days later, on the next Monday
        (98, "escalation"),
    ]
    mondays = {pd.Timestamp("2026-03-02", tz="UTC") + pd.Timedelta(days=n) for n, _ in steps}
    assert {d.weekday() for d in mondays} == {0}


def test_weekly_first_run_sends_at_once_then_waits_for_the_send_day() -> None:
    weekly = Rules(**{**RULES.__dict__, "weekly_day": 0})
    assert cycles(plan(state(), as_of="2026-03-04", rules=weekly, first_run=True))[0] == "new"
    later = plan(state(), as_of="2026-03-04", rules=weekly)
    assert cycles(later) == [None, None, None]  # new findings accumulate until Monday
    assert later["status"].tolist() == ["new"] * 3


def test_a_missed_reminder_is_skipped_once_the_deadline_passed() -> None:
    planned = plan(state(**{IDS[0]: ("2026-02-10",)}))  # 19 days: past the deadline
    assert cycles(planned)[0] == "overdue"


def test_decisions_take_findings_off_the_cycle() -> None:
    st = state(
        **{rid: ("2026-01-01", None, "2026-01-16", "2026-01-29", "2026-01-29") for rid in IDS}
    )
    dec = decisions((IDS[0], "remove", None), (IDS[1], "keep", "2026-06-30"))
    planned = plan(st, dec)
    assert cycles(planned) == [None, None, "escalation"]  # 31 days after the last escalation
    assert planned["status"].tolist() == ["notified", "kept", "notified"]


def test_an_expired_keep_starts_a_new_cycle() -> None:
    st = state(**{IDS[0]: ("2026-01-01", "2026-01-11", "2026-01-16", "2026-01-29")})
    dec = decisions((IDS[0], "keep", "2026-02-20"))
    assert cycles(plan(st, dec))[0] == "new"
    assert plan(st, dec)["deadline"].iloc[0] == day("2026-03-15")


def test_auto_remove_takes_separated_licences_only() -> None:
    rules = Rules(**{**RULES.__dict__, "auto_remove_after_days": 30})
    dates = ("2026-01-01", "2026-01-11", "2026-01-16", "2026-01-29", "2026-01-29")
    planned = plan(state(**{rid: dates for rid in IDS}), rules=rules)
    # The separated account's licence; an inactive licence and a phone are escalated again.
    assert cycles(planned) == ["auto_remove", "escalation", "escalation"]
    assert planned["decision"].tolist()[0] == "remove"
    assert cadence.auto_removals(planned)["resource_id"].tolist() == [IDS[0]]
    off = plan(state(**{rid: dates for rid in IDS}))
    assert cycles(off) == ["escalation"] * 3  # off by default


def test_next_step_is_true_for_the_configured_numbers() -> None:
    planned = plan(state())
    step = next_step(planned, RULES, AS_OF)
    assert (step.step, step.on, step.escalation_on) == (
        "reminder",
        day("2026-03-11"),
        day("2026-03-29"),
    )
    reminded = plan(state(**{rid: ("2026-02-19",) for rid in IDS}))
    assert cycles(reminded) == ["reminder"] * 3
    assert next_step(reminded, RULES, AS_OF).on == day("2026-03-06")  # overdue the day after
    escalated = plan(state(**{rid: ("2026-02-01", None, "2026-02-16") for rid in IDS}))
    assert cycles(escalated) == ["escalation"] * 3
    assert next_step(escalated, RULES, AS_OF).step == "escalation_repeat"
    assert next_step(escalated, RULES, AS_OF).on == day("2026-03-31")


def test_mark_told_moves_the_dates_of_what_went_out_only() -> None:
    planned = plan(state(**{IDS[1]: ("2026-02-19",), IDS[2]: ("2026-02-01",)}))
    assert cycles(planned) == ["new", "reminder", "escalation"]
    told = cadence.mark_told(planned, [IDS[0], IDS[1]], AS_OF)
    assert told["first_notified_on"].tolist() == [AS_OF, day("2026-02-19"), day("2026-02-01")]
    assert pd.isna(told["reminded_on"].iloc[0])
    assert told["reminded_on"].iloc[1] == AS_OF
    assert pd.isna(told["escalated_on"].iloc[2])  # the escalation did not go out
    assert told["status"].tolist() == ["notified", "notified", "notified"]
    escalated = cadence.mark_told(planned, IDS, AS_OF)
    assert escalated["first_escalated_on"].iloc[2] == AS_OF == escalated["overdue_on"].iloc[2]


def test_plan_needs_an_aware_as_of() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cadence.plan(costed(), state(), decisions(), as_of=pd.Timestamp("2026-03-01"), rules=RULES)
