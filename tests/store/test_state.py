"""Resource state across runs: first seen kept, notifications counted, absentees found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from licensewatch import model, store
from licensewatch.store import state
from licensewatch.store.tables import ResourceState
from tests.store.builders import costed, many

DAY1 = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
A, B, C = "license:a:e3", "license:b:e3", "phone:sep0001"


def _run(session: Session, when: datetime) -> int:
    return store.start_run(session, as_of=when.date(), started_at=when, dry_run=False)


def _rows(session: Session) -> dict[str, ResourceState]:
    session.expire_all()
    return {r.resource_id: r for r in session.scalars(select(ResourceState))}


def test_state_across_two_runs(session: Session) -> None:
    run1 = _run(session, DAY1)
    first = costed(
        [
            {"resource_id": A, "department": "Finance", "annual_cost_cents": 18960},
            {"resource_id": B, "department": "Legal"},
        ]
    )
    store.update_state(session, run1, first, seen_at=DAY1, notified_ids=[A], notified_at=DAY1)
    session.commit()

    run2 = _run(session, DAY2)
    second = costed(
        [
            {
                "resource_id": A,
                "department": "Treasury",
                "annual_cost_cents": 19500,
                "status": "notified",
            },
            {"resource_id": B, "department": "Legal"},
            {
                "resource_id": C,
                "resource_kind": "phone",
                "department": model.UNASSIGNED,
                "reasons": "PHONE_NO_OWNER",
                "annual_cost_cents": 23000,
            },
        ]
    )
    later = DAY2 + timedelta(minutes=7)
    store.update_state(session, run2, second, seen_at=DAY2, notified_ids=[A, B], notified_at=later)
    session.commit()

    rows = _rows(session)
    a, b, c = rows[A], rows[B], rows[C]
    assert (a.first_seen_dormant, a.last_seen_dormant) == (DAY1, DAY2)
    assert (a.notify_count, a.last_notified_at, a.status) == (2, later, "notified")
    assert (a.department, a.annual_cost_cents, a.last_run_id) == ("Treasury", 19500, run2)
    assert (b.first_seen_dormant, b.notify_count, b.last_notified_at) == (DAY1, 1, later)
    assert b.status == "notified"
    assert (c.first_seen_dormant, c.notify_count, c.last_notified_at, c.status) == (
        DAY2,
        0,
        None,
        "new",
    )
    assert c.resource_kind == "phone" and c.department == model.UNASSIGNED

    loaded = store.load_state(session, [C, A, "license:unknown:e3"]).set_index("resource_id")
    assert sorted(loaded.index) == [A, C]
    assert loaded.loc[A, "first_seen_dormant"] == pd.Timestamp(DAY1)
    assert loaded.loc[A, "notify_count"] == 2 and loaded.loc[C, "status"] == "new"
    assert loaded["last_notified_at"].isna().to_dict() == {C: True, A: False}
    assert {c: str(t) for c, t in loaded.reset_index().dtypes.items()} == store.STATE


def test_a_run_without_notices_keeps_the_last_notification(session: Session) -> None:
    frame = costed([{"resource_id": A}])
    store.update_state(
        session, _run(session, DAY1), frame, seen_at=DAY1, notified_ids=[A], notified_at=DAY1
    )
    store.update_state(
        session,
        _run(session, DAY2),
        frame.assign(status="notified"),
        seen_at=DAY2,
        notified_ids=[],
        notified_at=None,
    )
    a = _rows(session)[A]
    assert (a.notify_count, a.last_notified_at, a.status) == (1, DAY1, "notified")


def test_load_state_of_many_ids_in_batches(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state, "LOOKUP_BATCH", 7)
    frame = many(50)
    store.update_state(
        session, _run(session, DAY1), frame, seen_at=DAY1, notified_ids=[], notified_at=None
    )
    wanted = [*frame["resource_id"].iloc[::2], "license:nobody:e3", frame["resource_id"].iloc[0]]
    loaded = store.load_state(session, wanted)
    assert sorted(loaded["resource_id"]) == sorted(frame["resource_id"].iloc[::2])
    assert store.load_state(session, []).columns.tolist() == list(store.STATE)


def test_absent_since_last_run(session: Session) -> None:
    frame = costed(
        [{"resource_id": A}, {"resource_id": B}, {"resource_id": C, "resource_kind": "phone"}]
    )
    store.update_state(
        session, _run(session, DAY1), frame, seen_at=DAY1, notified_ids=[B], notified_at=DAY1
    )
    session.execute(
        update(ResourceState).where(ResourceState.resource_id == C).values(status="removed")
    )
    # A kept resource still costs money: its disappearance is a saving too.
    session.execute(
        update(ResourceState).where(ResourceState.resource_id == B).values(status="kept")
    )
    assert store.absent_since_last_run(session, [A]) == [B]
    assert store.absent_since_last_run(session, [A.upper()]) == [B]
    assert store.absent_since_last_run(session, {A, "phone:other"}) == [B]  # a set too
    assert store.absent_since_last_run(session, []) == [A, B]
    # The pull as a column (the night's two million ids), missing values and other spellings.
    pulled = pd.Series([None, f" {B.upper()} ", "license:x:y"], dtype="string")
    assert store.absent_since_last_run(session, pulled) == [A]
    assert store.absent_since_last_run(session, pd.Series([A, B], dtype="string")) == []


def test_absent_since_last_run_with_nothing_stored(session: Session) -> None:
    assert store.absent_since_last_run(session, [A, B]) == []


def test_mark_removed_then_back_starts_a_new_episode(session: Session) -> None:
    frame = costed([{"resource_id": A}, {"resource_id": B}])
    store.update_state(
        session, _run(session, DAY1), frame, seen_at=DAY1, notified_ids=[A], notified_at=DAY1
    )
    assert store.mark_removed(session, [A, "license:nobody:e3"], removed_at=DAY2) == 1
    assert store.mark_removed(session, [A], removed_at=DAY2) == 0  # already removed
    row = session.get_one(ResourceState, A)
    session.refresh(row)
    assert (row.status, row.removed_at) == ("removed", DAY2)
    # A comes back dormant: a new episode, dormant since now, never notified in it.
    later = DAY2 + (DAY2 - DAY1)
    store.update_state(
        session, _run(session, later), frame, seen_at=later, notified_ids=[], notified_at=None
    )
    session.refresh(row)
    assert (row.status, row.first_seen_dormant, row.removed_at) == ("new", later, None)
    other = session.get_one(ResourceState, B)
    session.refresh(other)
    assert other.first_seen_dormant == DAY1


def test_update_state_refuses_caller_bugs(session: Session) -> None:
    run_id = _run(session, DAY1)
    frame = costed([{"resource_id": A}])
    with pytest.raises(ValueError, match="notified_at is required"):
        store.update_state(session, run_id, frame, seen_at=DAY1, notified_ids=[A], notified_at=None)
    with pytest.raises(ValueError, match="seen_at must be timezone-aware"):
        store.update_state(
            session, run_id, frame, seen_at=datetime(2025, 6, 1), notified_ids=[], notified_at=None
        )
    with pytest.raises(ValueError, match="more than once"):
        store.update_state(
            session,
            run_id,
            pd.concat([frame, frame]),
            seen_at=DAY1,
            notified_ids=[],
            notified_at=None,
        )


def test_state_upsert_in_bulk(session: Session) -> None:
    frame = many(12_000)
    ids = frame["resource_id"]
    store.update_state(
        session,
        _run(session, DAY1),
        frame,
        seen_at=DAY1,
        notified_ids=ids.iloc[:1000].tolist(),
        notified_at=DAY1,
    )
    store.update_state(
        session,
        _run(session, DAY2),
        frame,
        seen_at=DAY2,
        notified_ids=ids.iloc[500:1500].tolist(),
        notified_at=DAY2,
    )
    loaded = store.load_state(session, ids.tolist()).set_index("resource_id")
    assert len(loaded) == 12_000
    assert loaded["notify_count"].value_counts().to_dict() == {0: 10_500, 1: 1000, 2: 500}
    assert (loaded["first_seen_dormant"] == pd.Timestamp(DAY1)).all()
