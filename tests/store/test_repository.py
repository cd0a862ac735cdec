"""Runs and findings: saved in the caller's transaction, read back exactly."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensewatch import model, store
from licensewatch.store.tables import Finding, ResourceState, Run
from tests.store.builders import costed, many

NOW = datetime(2025, 6, 30, 2, 15, tzinfo=UTC)


def _start(session: Session, as_of: date = date(2025, 6, 30)) -> int:
    return store.start_run(session, as_of=as_of, started_at=NOW, dry_run=False)


def _finish(session: Session, run_id: int, status: str = "ok") -> None:
    store.finish_run(
        session,
        run_id,
        status=status,
        finished_at=NOW + timedelta(minutes=5),
        counts={"accounts_read": 10},
        annual_avoidable_cents=0,
        accrued_avoidable_cents=0,
        findings_count=0,
    )


def _count(session: Session, table: type[Run | Finding | ResourceState]) -> int:
    return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_findings_round_trip_with_missing_values(session: Session) -> None:
    frame = costed(
        [
            {
                "resource_id": "license:a1:e3",
                "owner_upn": "ann@example.org",
                "account_id": "a1",
                "display_name": "Ann Émile-Ñúñez",
                "dormant_since": pd.Timestamp("2024-02-29 13:45:01.123456", tz="UTC"),
                "match_key": "SPE_E3",
                "item": "M365-E3",
                "status": "notified",
            },
            {
                "resource_id": "phone:sep001122334455",
                "resource_kind": "phone",
                "department": model.UNASSIGNED,
                "reasons": "PHONE_NO_OWNER",
                "dormant_since": pd.NaT,
                "days_dormant": 0,
                "annual_cost_cents": 0,
                "accrued_cost_cents": 0,
                "priced": False,
            },
        ]
    )
    run_id = _start(session)
    store.save_findings(session, run_id, frame)
    session.commit()

    back = store.findings_of_run(session, run_id)
    expected = frame[list(store.STORED_FINDINGS)].astype(store.STORED_FINDINGS)
    pd.testing.assert_frame_equal(back, expected)
    assert back["dormant_since"].isna().tolist() == [False, True]
    assert back["owner_upn"].isna().tolist() == [False, True]
    assert str(back["dormant_since"].dtype) == model.DATETIME
    assert store.findings_of_run(session, run_id + 1).empty


# PostgreSQL text cannot hold NUL; utf-8 leaves out lone surrogates.
_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"))
_ZONES = st.sampled_from([UTC, *(timezone(timedelta(hours=h)) for h in (-11, -5, 1, 14))])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    subject=_TEXT,
    display_name=st.none() | _TEXT,
    dormant_since=st.none()
    | st.datetimes(datetime(1970, 1, 1), datetime(2200, 1, 1), timezones=_ZONES),
    cents=st.integers(min_value=-(2**62), max_value=2**62),
)
def test_any_text_time_and_amount_survive(
    session: Session,
    subject: str,
    display_name: str | None,
    dormant_since: datetime | None,
    cents: int,
) -> None:
    # Examples share the database: each saves under its own run and rolls back.
    frame = costed(
        [
            {
                "resource_id": "license:x:y",
                "subject": subject,
                "display_name": display_name,
                "dormant_since": dormant_since,
                "annual_cost_cents": cents,
                "accrued_cost_cents": -cents,
            }
        ]
    )
    run_id = _start(session)
    store.save_findings(session, run_id, frame)
    row = store.findings_of_run(session, run_id).iloc[0]
    session.rollback()
    assert row["subject"] == subject
    assert (None if pd.isna(row["display_name"]) else row["display_name"]) == display_name
    if dormant_since is None:
        assert pd.isna(row["dormant_since"])
    else:
        assert row["dormant_since"] == dormant_since
    assert (row["annual_cost_cents"], row["accrued_cost_cents"]) == (cents, -cents)


def test_a_run_is_started_and_finished(session: Session) -> None:
    run_id = store.start_run(
        session, as_of=date(2025, 6, 30), started_at=NOW, dry_run=True, run_key="abc123"
    )
    (running,) = store.list_runs(session)
    assert (running.id, running.run_key, running.status) == (run_id, "abc123", "running")
    assert running.finished_at is None and running.dry_run is True

    store.finish_run(
        session,
        run_id,
        status="dry_run",
        finished_at=NOW + timedelta(minutes=3),
        counts={"accounts_read": 60_000, "licenses_read": 61_234},
        annual_avoidable_cents=102_345_678,
        accrued_avoidable_cents=9_876_543_210,
        findings_count=5441,
        note="rehearsal",
    )
    session.commit()
    session.expire_all()
    (done,) = store.list_runs(session)
    assert done.status == "dry_run" and done.note == "rehearsal"
    assert done.finished_at == NOW + timedelta(minutes=3)
    assert dict(done.counts) == {"accounts_read": 60_000, "licenses_read": 61_234}
    assert (done.annual_avoidable_cents, done.accrued_avoidable_cents) == (
        102_345_678,
        9_876_543_210,
    )
    assert done.findings_count == 5441 and done.as_of == date(2025, 6, 30)


def test_run_keys_default_to_a_fresh_uuid(session: Session) -> None:
    first, second = _start(session), _start(session)
    keys = {r.id: r.run_key for r in store.list_runs(session)}
    assert all(re.fullmatch(r"[0-9a-f]{32}", key) for key in keys.values())
    assert keys[first] != keys[second]


def test_last_good_run_is_the_latest_ok_by_as_of_then_id(session: Session) -> None:
    assert store.last_good_run(session) is None
    plan = [
        (date(2025, 6, 2), "ok"),
        (date(2025, 6, 3), "braked"),
        (date(2025, 6, 1), "ok"),  # a late re-run of an older day
        (date(2025, 6, 2), "ok"),  # a re-run of the same day
        (date(2025, 6, 4), "failed"),
        (date(2025, 6, 5), "dry_run"),
    ]
    ids = []
    for as_of, status in plan:
        ids.append(_start(session, as_of))
        _finish(session, ids[-1], status)
    good = store.last_good_run(session)
    assert good is not None and good.id == ids[3]
    assert [r.id for r in store.list_runs(session, limit=4)] == ids[::-1][:4]


def test_finish_run_refuses_what_the_schema_would(session: Session) -> None:
    run_id = _start(session)
    with pytest.raises(ValueError, match="'done' is not a valid RunStatus"):
        _finish(session, run_id, "done")
    with pytest.raises(ValueError, match="cannot have status 'running'"):
        _finish(session, run_id, "running")
    with pytest.raises(ValueError, match="no run with id"):
        _finish(session, run_id + 99)


def test_save_findings_refuses_bad_frames(session: Session) -> None:
    run_id = _start(session)
    frame = many(3)
    with pytest.raises(ValueError, match=r"lack column.*status"):
        store.save_findings(session, run_id, frame.drop(columns=["status"]))
    gaps = frame.assign(department=frame["department"].mask(frame.index == 1))
    with pytest.raises(ValueError, match=r"missing values in department \(1 rows\)"):
        store.save_findings(session, run_id, gaps)
    with pytest.raises(ValueError, match="more than once"):
        store.save_findings(session, run_id, pd.concat([frame, frame.iloc[:1]]))
    assert _count(session, Finding) == 0


def test_rollback_leaves_nothing(session: Session) -> None:
    run_id = _start(session)
    frame = many(500)
    store.save_findings(session, run_id, frame)
    store.update_state(
        session, run_id, frame, seen_at=NOW, notified_ids=["license:acc1:sku-e3"], notified_at=NOW
    )
    assert _count(session, Finding) == 500
    session.rollback()
    assert [_count(session, t) for t in (Run, Finding, ResourceState)] == [0, 0, 0]


def test_sixty_thousand_findings_are_saved(session: Session) -> None:
    run_id = _start(session)
    frame = many(60_000)
    store.save_findings(session, run_id, frame)
    session.commit()
    assert _count(session, Finding) == 60_000
    last = session.scalars(select(Finding).order_by(Finding.id.desc()).limit(1)).one()
    assert last.resource_id == "license:acc59999:sku-e3" and last.run_id == run_id
    assert last.dormant_since == frame["dormant_since"].iloc[-1]


def test_a_run_without_findings_stores_none(session: Session) -> None:
    run_id = _start(session)
    nothing = model.empty(model.COSTED_FINDINGS).assign(status=pd.Series(dtype=model.STRING))
    store.save_findings(session, run_id, nothing)
    store.update_state(session, run_id, nothing, seen_at=NOW, notified_ids=[], notified_at=None)
    assert store.findings_of_run(session, run_id).columns.tolist() == list(store.STORED_FINDINGS)
    assert [_count(session, t) for t in (Run, Finding, ResourceState)] == [1, 0, 0]


def test_last_actions_are_each_asked_resources_latest_result(session: Session) -> None:
    from licensewatch.store.decisions import last_actions, record_action

    at = datetime(2020, 1, 2, tzinfo=UTC)
    for rid, ok, detail in [
        ("license:a", False, "throttled"),
        ("license:b", False, "not found"),
        ("license:a", True, "removed"),
        ("license:c", True, "removed"),
        ("license:b", True, "removed"),
        ("license:b", False, "refused"),
    ]:
        record_action(
            session, resource_id=rid, action="remove_license", requested_at=at, ok=ok,
            detail=detail, requested_by="ops",
        )  # fmt: skip
    asked = ["license:a", "license:b", "license:none"]
    assert last_actions(session, asked) == {
        "license:a": (True, "removed"),
        "license:b": (False, "refused"),
    }
    assert last_actions(session, []) == {}
