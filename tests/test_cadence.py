"""The notification cycle of a finding, day by day (pure: frames in, frames out)."""

from __future__ import annotations

import pandas as pd
import pytest

from licensewatch import model
from licensewatch.rules import cadence

AS_OF = pd.Timestamp("2026-03-01", tz="UTC")
IDS = ["license:a:e3", "license:b:e3", "phone:sep1"]


def day(text: str | None) -> pd.Timestamp | None:
    return None if text is None else pd.Timestamp(text, tz="UTC")


def state(**dates: tuple[str | None, str | None, str | None]) -> pd.DataFrame:
    rows = [
        {"resource_id": rid, **dict(zip(cadence.CYCLE_DATES, map(day, d), strict=True))}
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


def plan(
    st: pd.DataFrame, dec: pd.DataFrame | None = None, as_of: str = "2026-03-01"
) -> pd.DataFrame:
    costed = pd.DataFrame({"resource_id": pd.array(IDS, dtype=model.STRING)})
    return cadence.plan(
        costed,
        st,
        dec if dec is not None else decisions(),
        as_of=pd.Timestamp(as_of, tz="UTC"),
        reminder_days=14,
        escalate_after_days=28,
    )


def cycles(planned: pd.DataFrame) -> list[object]:
    return [None if pd.isna(c) else c for c in planned["cycle"]]


def test_never_notified_findings_are_new() -> None:
    planned = plan(state())
    assert cycles(planned) == ["new", "new", "new"]
    assert planned["status"].tolist() == ["new"] * 3


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        ("2026-02-28", None),  # told yesterday
        ("2026-02-16", None),  # 13 days ago
        ("2026-02-15", "reminder"),  # 14 days ago
        ("2026-02-02", "reminder"),  # 27 days
        ("2026-02-01", "escalation"),  # 28 days: escalation wins over an unsent reminder
    ],
)
def test_reminder_then_escalation_by_days_since_first_notice(
    first: str, expected: str | None
) -> None:
    planned = plan(state(**{IDS[0]: (first, None, None)}))
    assert cycles(planned)[0] == expected
    assert planned["status"].iloc[0] == "notified"


def test_reminder_and_escalation_go_once_per_cycle() -> None:
    planned = plan(
        state(
            **{
                IDS[0]: ("2026-02-10", "2026-02-24", None),  # reminded, escalation not yet due
                IDS[1]: ("2026-01-01", "2026-01-15", "2026-01-29"),  # everything done
                IDS[2]: ("2026-02-01", "2026-01-10", None),  # a reminder of an earlier cycle
            }
        )
    )
    assert cycles(planned) == [None, None, "escalation"]


def test_decisions_answer_the_cycle() -> None:
    planned = plan(
        state(**{rid: ("2026-01-01", "2026-01-15", None) for rid in IDS}),
        decisions(
            (IDS[0], "keep", "2026-06-30"),  # kept: suppressed, status kept
            (IDS[1], "remove", None),  # on the deprovisioning list: no more emails
            (IDS[2], "keep", "2026-02-27"),  # keep expired: a new cycle
        ),
    )
    assert cycles(planned) == [None, None, "new"]
    assert planned["status"].tolist() == ["kept", "notified", "new"]
    assert planned["decision"].tolist() == ["keep", "remove", "keep"]


def test_keep_until_is_the_last_day_kept() -> None:
    dec = decisions((IDS[0], "keep", "2026-03-01"))
    st = state(**{IDS[0]: ("2026-01-01", None, None)})
    assert plan(st, dec)["status"].iloc[0] == "kept"
    assert cycles(plan(st, dec, as_of="2026-03-02"))[0] == "new"


def test_an_expired_keep_restarts_once() -> None:
    # After the new first notice (later than keep_until) the cycle runs as usual.
    st = state(**{IDS[0]: ("2026-02-28", "2026-01-15", "2026-01-29")})
    planned = plan(st, decisions((IDS[0], "keep", "2026-02-20")))
    assert cycles(planned)[0] is None
    later = plan(st, decisions((IDS[0], "keep", "2026-02-20")), as_of="2026-03-14")
    assert cycles(later)[0] == "reminder"  # the old reminder belonged to the earlier cycle


def test_mark_told_moves_the_dates_of_what_went_out_only() -> None:
    planned = plan(
        state(**{IDS[1]: ("2026-02-15", None, None), IDS[2]: ("2026-02-01", None, None)})
    )
    assert cycles(planned) == ["new", "reminder", "escalation"]
    told = cadence.mark_told(planned, [IDS[0], IDS[1]], AS_OF)
    assert told["first_notified_on"].tolist() == [AS_OF, day("2026-02-15"), day("2026-02-01")]
    assert pd.isna(told["reminded_on"].iloc[0])
    assert told["reminded_on"].iloc[1] == AS_OF
    assert pd.isna(told["escalated_on"].iloc[2])  # the escalation did not go out (no address)
    assert told["status"].tolist() == ["notified", "notified", "notified"]


def test_plan_needs_an_aware_as_of() -> None:
    costed = pd.DataFrame({"resource_id": pd.array(IDS, dtype=model.STRING)})
    with pytest.raises(ValueError, match="timezone-aware"):
        cadence.plan(
            costed,
            state(),
            decisions(),
            as_of=pd.Timestamp("2026-03-01"),
            reminder_days=14,
            escalate_after_days=28,
        )
