"""Read-only history queries for the reports, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
from sqlalchemy import update
from sqlalchemy.orm import Session

from licensewatch import model, store
from licensewatch.reports.finance import totals
from licensewatch.reports.history import load_points, point_of, stored_as_costed
from licensewatch.store.history import (
    NOTIFIED_STATE,
    REMOVED_STATE,
    RUN_AGGREGATES,
    notified_state,
    removed_state,
    run_aggregates,
)
from licensewatch.store.tables import RESOURCE_STATE
from tests.store.builders import costed

AT = datetime(2019, 12, 31, 2, tzinfo=UTC)

RUN_1 = costed(
    [
        {"resource_id": "license:a:e3", "account_id": "a", "item": "M365_E3",
         "reasons": "SEPARATED;INACTIVE", "accrued_cost_cents": 100},
        {"resource_id": "license:a:pbi", "account_id": "a", "item": None,
         "annual_cost_cents": 0, "annual_rate_cents": 0, "accrued_cost_cents": 0,
         "priced": False, "reasons": "SEPARATED"},
        {"resource_id": "license:b:e3", "account_id": "b", "item": "M365_E3",
         "department": "Legal", "accrued_cost_cents": 7},
        {"resource_id": "phone:sep1", "resource_kind": "phone", "account_id": "a",
         "item": "IP_PHONE", "annual_cost_cents": 23000, "annual_rate_cents": 23000,
         "accrued_cost_cents": 11, "reasons": "PHONE_OWNER_DORMANT"},
        {"resource_id": "phone:sep2", "resource_kind": "phone", "item": "IP_PHONE",
         "annual_cost_cents": 23000, "annual_rate_cents": 23000, "accrued_cost_cents": 0,
         "reasons": "PHONE_NO_OWNER", "status": "notified"},
    ]
)  # fmt: skip


def _run(session: Session, day: date, frame: pd.DataFrame, status: str = "ok") -> int:
    run_id = store.start_run(session, as_of=day, started_at=AT, dry_run=False)
    store.save_findings(session, run_id, frame)
    store.finish_run(session, run_id, status=status, finished_at=AT, counts={},
                     annual_avoidable_cents=0, accrued_avoidable_cents=0,
                     findings_count=len(frame))  # fmt: skip
    return run_id


def test_run_aggregates_equal_the_totals_of_the_findings(session: Session) -> None:
    first = _run(session, date(2019, 11, 30), RUN_1)
    _run(session, date(2019, 12, 15), RUN_1.iloc[:0])  # a run that found nothing
    _run(session, date(2019, 12, 31), RUN_1, status="braked")
    frame = run_aggregates(session)
    assert list(frame.columns) == list(RUN_AGGREGATES)
    assert frame["as_of"].dt.tz is not None
    assert frame[["license_findings", "phone_findings", "dormant_accounts",
                  "separated_accounts", "unpriced_findings", "annual_avoidable_cents",
                  "accrued_avoidable_cents"]].values.tolist() == [
        [3, 2, 2, 1, 1, 18960 * 2 + 23000 * 2, 118],
        [0, 0, 0, 0, 0, 0, 0],
    ]  # fmt: skip
    t = totals(RUN_1)
    assert (t.annual_avoidable_cents, t.accrued_avoidable_cents) == (83920, 118)
    stored = point_of(stored_as_costed(store.findings_of_run(session, first)), date(2019, 11, 30))
    assert load_points(session)[0] == point_of(RUN_1, date(2019, 11, 30), run_id=first)
    assert stored == point_of(RUN_1, date(2019, 11, 30))
    assert len(run_aggregates(session, statuses=("ok", "braked"))) == 3
    assert run_aggregates(session, since=date(2019, 12, 1), until=date(2019, 12, 20))[
        "as_of"
    ].tolist() == [pd.Timestamp("2019-12-15", tz="UTC")]


def test_notified_and_removed_state(session: Session) -> None:
    run_id = _run(session, date(2019, 11, 30), RUN_1)
    store.update_state(session, run_id, RUN_1, seen_at=AT, notified_ids=["license:b:e3",
                       "phone:sep1"], notified_at=AT)  # fmt: skip
    session.execute(
        update(RESOURCE_STATE)
        .where(RESOURCE_STATE.c.resource_id == "phone:sep1")
        .values(status="removed", removed_at=datetime(2020, 1, 5, tzinfo=UTC))
    )
    notified = notified_state(session)
    assert list(notified.columns) == list(NOTIFIED_STATE)
    assert notified["resource_id"].tolist() == ["license:b:e3"]
    # The stored findings of run 1 show license:b:e3 "new": no run showed it notified yet.
    assert notified["first_notified_on"].isna().all()
    assert notified["last_notified_at"].tolist() == [pd.Timestamp(AT)]
    second = RUN_1.assign(status=model.FindingStatus.NOTIFIED.value)
    _run(session, date(2019, 12, 31), second)
    assert notified_state(session)["first_notified_on"].tolist() == [
        pd.Timestamp("2019-12-31", tz="UTC")
    ]
    removed = removed_state(session)
    assert list(removed.columns) == list(REMOVED_STATE)
    assert removed[["resource_id", "annual_cost_cents"]].values.tolist() == [["phone:sep1", 23000]]
