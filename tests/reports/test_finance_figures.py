"""Finance figures by decision, by first reason and month on month, to the cent; the time axis."""

from __future__ import annotations

from datetime import date

import pandas as pd

from licensewatch.reports.charts import Series, time_positions, trend_chart
from licensewatch.reports.finance_figures import (
    Amount,
    decision_amounts,
    month_on_month,
    reason_amounts,
)
from licensewatch.reports.history import RunPoint


def costed() -> pd.DataFrame:
    rows = [
        ("r1", "SEPARATED;INACTIVE", "remove", "notified", 18960),
        ("r2", "INACTIVE", "remove", "notified", 18960),  # its removal failed
        ("r3", "DISABLED_LICENSED", None, "kept", 11999),
        ("r4", "NEVER_SIGNED_IN", None, "new", 23000),
        ("r5", "INACTIVE;SEPARATED", None, "notified", 1),
    ]
    frame = pd.DataFrame(rows, columns=["resource_id", "reasons", "decision", "status", "cents"])
    return frame.assign(
        priced=True,
        item="X",
        annual_cost_cents=frame["cents"],
        accrued_cost_cents=0,
    )


def test_by_decision_adds_up_to_the_total() -> None:
    amounts = decision_amounts(costed(), failed={"r2", "r4"})  # r4 was never approved
    assert amounts == (
        Amount("approved for removal, pending", 1, 18960),
        Amount("removal failed", 1, 18960),
        Amount("kept (justified exception)", 1, 11999),
        Amount("no decision yet", 2, 23001),
    )
    assert sum(a.annual_cents for a in amounts) == int(costed()["cents"].sum())


def test_each_finding_counts_once_under_its_first_reason() -> None:
    assert reason_amounts(costed()) == (
        Amount("SEPARATED", 2, 18961),  # leavers, whatever order the codes came in
        Amount("INACTIVE", 1, 18960),
        Amount("NEVER_SIGNED_IN", 1, 23000),
        Amount("DISABLED_LICENSED", 1, 11999),
    )


def point(day: str, cents: int) -> RunPoint:
    return RunPoint(date.fromisoformat(day), 1, 0, 0, 0, 0, 0, cents, 0)


def test_month_on_month_against_the_run_a_month_earlier() -> None:
    history = [point("2020-01-31", 100_00), point("2020-02-20", 90_00), point("2020-03-31", 150_00)]
    change = month_on_month(history, date(2020, 3, 31))  # a month before: 29 February
    assert change is not None
    assert (change.previous_as_of, change.previous_cents, change.change_cents) == (
        date(2020, 2, 20), 90_00, 60_00,
    )  # fmt: skip
    assert month_on_month(history[:1], date(2020, 1, 31)) is None


def test_the_trend_is_drawn_on_a_time_axis() -> None:
    days = [date(2020, 1, 1), date(2020, 1, 2), date(2020, 1, 31)]
    assert time_positions(days) == [0.0, 1 / 30, 1.0]
    svg = trend_chart([d.isoformat() for d in days], [Series("n", [1, 2, 3], str)], title="t",
                      days=days)  # fmt: skip
    (line,) = [part for part in svg.split("<polyline")[1:]]
    xs = [float(xy.split(",")[0]) for xy in line.split("points='")[1].split("'")[0].split()]
    assert xs[1] - xs[0] < (xs[2] - xs[1]) / 20  # one day apart vs 29 days apart
