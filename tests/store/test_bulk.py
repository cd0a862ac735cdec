"""store.bulk: COPY on PostgreSQL, executemany on SQLite, the same rows as SQLAlchemy stores."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from licensewatch import model, store
from licensewatch.store import _frames, bulk
from licensewatch.store.repository import STORED_FINDINGS
from licensewatch.store.tables import FINDINGS
from tests.store.builders import costed, many

AT = datetime(2019, 12, 31, 2, tzinfo=UTC)
ROWS = costed(
    [
        {"resource_id": "license:a:e3", "account_id": "a", "item": "M365_E3",
         "dormant_since": pd.Timestamp("2019-06-01T13:45:07.123456Z"), "subject": "Zoë «x»"},
        {"resource_id": "license:b:pbi", "account_id": "b", "item": None, "priced": False,
         "annual_cost_cents": 0, "annual_rate_cents": 0, "accrued_cost_cents": 0},
        {"resource_id": "phone:sep1", "resource_kind": "phone", "item": "IP_PHONE",
         "account_id": None, "reasons": "PHONE_NO_OWNER", "status": "notified"},
    ]
)  # fmt: skip


def _stored(session: Session, run_id: int) -> list[tuple[Any, ...]]:
    names = [FINDINGS.c[n] for n in STORED_FINDINGS]
    query = select(*names).where(FINDINGS.c.run_id == run_id).order_by(FINDINGS.c.resource_id)
    return [tuple(r) for r in session.execute(query)]


def _run(session: Session) -> int:
    return store.start_run(session, as_of=AT.date(), started_at=AT, dry_run=False)


def test_bulk_rows_equal_sqlalchemys_rows(session: Session) -> None:
    fast, slow = _run(session), _run(session)
    columns = list(STORED_FINDINGS)
    bulk.insert_frame(session, FINDINGS, ROWS, columns, {"run_id": fast})
    session.execute(insert(FINDINGS), _frames.records(ROWS, columns, {"run_id": slow}))
    session.commit()
    got, expected = _stored(session, fast), _stored(session, slow)
    assert got == expected and len(got) == 3
    by_id = {r[0]: r for r in got}
    since = by_id["license:a:e3"][columns.index("dormant_since")]
    assert since == datetime(2019, 6, 1, 13, 45, 7, 123456, tzinfo=UTC)
    assert by_id["license:a:e3"][columns.index("subject")] == "Zoë «x»"
    assert by_id["phone:sep1"][columns.index("account_id")] is None
    assert by_id["license:b:pbi"][columns.index("item")] is None
    assert by_id["license:b:pbi"][columns.index("annual_cost_cents")] == 0
    frame = store.findings_of_run(session, fast)
    assert list(frame["resource_id"]) == sorted(ROWS["resource_id"])


def test_rows_inserted_a_chunk_at_a_time_are_every_row_once(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 3 rows in chunks of 2: a full chunk and a short one, constants in both.
    monkeypatch.setattr(bulk, "INSERT_CHUNK", 2)
    whole, chunked = _run(session), _run(session)
    columns = list(STORED_FINDINGS)
    session.execute(insert(FINDINGS), _frames.records(ROWS, columns, {"run_id": whole}))
    bulk.insert_frame(session, FINDINGS, ROWS, columns, {"run_id": chunked})
    session.commit()
    expected = _stored(session, whole)
    assert _stored(session, chunked) == expected and len(expected) == 3


def test_save_findings_takes_the_bulk_path_of_its_backend(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL gets COPY, SQLite the driver's executemany; batches cover every row."""
    copies: list[int] = []
    real_copy = bulk._copy

    def counting(raw: Any, table: Any, names: Any, rows: Any) -> None:
        copies.append(len(rows))
        real_copy(raw, table, names, rows)

    monkeypatch.setattr(bulk, "_copy", counting)
    monkeypatch.setattr("licensewatch.store.repository.INSERT_BATCH", 400)
    run_id = _run(session)
    frame = many(1000)
    store.save_findings(session, run_id, frame)
    session.commit()
    assert len(store.findings_of_run(session, run_id)) == 1000
    if session.get_bind().dialect.name == "postgresql":
        assert copies == [400, 400, 200]
    else:
        assert copies == []


def test_a_failed_bulk_insert_leaves_nothing_of_the_run(session: Session) -> None:
    """A row the database refuses (department is NOT NULL) fails the whole insert."""
    run_id = _run(session)
    session.commit()
    bad = ROWS.assign(department=ROWS["department"].where(ROWS.index != 2, None))
    with pytest.raises(DBAPIError, match=r"(?i)not.null"):
        bulk.insert_frame(session, FINDINGS, bad, list(STORED_FINDINGS), {"run_id": run_id})
    session.rollback()
    assert _stored(session, run_id) == []


def test_no_rows_is_no_statement(session: Session) -> None:
    bulk.insert_columns(session, FINDINGS, ["resource_id"], [[]])
    bulk.insert_frame(session, FINDINGS, ROWS.iloc[:0], list(STORED_FINDINGS), {"run_id": 1})
    assert session.execute(select(FINDINGS.c.id)).first() is None


def test_timestamps_are_stored_as_sqlalchemy_stores_them_and_read_back(session: Session) -> None:
    """The numpy-written timestamp text is byte for byte SQLAlchemy's; select_frame parses it."""
    from sqlalchemy import text

    from licensewatch.rules.phone_history import HISTORY
    from licensewatch.store.registrations import PHONE_REGISTRATIONS

    rows = pd.DataFrame(
        {
            "device_key": ["sepa", "sepb", "sepc"],
            # Microseconds survive; NaT is NULL.
            "first_observed_at": pd.to_datetime(
                [
                    "2019-12-31T03:04:05.000007+02:00",
                    "2019-01-01T00:00:00Z",
                    "1999-09-09T09:09:09Z",
                ],
                format="ISO8601",
                utc=True,
            ),
            "last_registered_at": pd.to_datetime(
                pd.Series(["2019-12-30T23:59:59.999999Z", None, None]), utc=True
            ),
            "last_status": ["registered", "unregistered", "unknown"],
            "status_changed_at": pd.to_datetime(["2019-12-31"] * 3, utc=True),
        }
    )
    rows = model.conform(rows, HISTORY)
    bulk.insert_frame(session, PHONE_REGISTRATIONS, rows, list(HISTORY))
    fast = session.execute(text("SELECT * FROM phone_registrations ORDER BY device_key")).all()
    session.execute(text("DELETE FROM phone_registrations"))
    session.execute(insert(PHONE_REGISTRATIONS), _frames.records(rows, list(HISTORY)))
    slow = session.execute(text("SELECT * FROM phone_registrations ORDER BY device_key")).all()
    assert fast == slow  # on SQLite: the same text; on PostgreSQL: the same instants
    t = PHONE_REGISTRATIONS.c
    query = select(*(t[n] for n in HISTORY)).order_by(t.device_key)
    read = bulk.select_frame(session, query, HISTORY)
    pd.testing.assert_frame_equal(read, _frames.frame_of(session.execute(query).all(), HISTORY))
    pd.testing.assert_frame_equal(read, rows)
    assert read.loc[0, "first_observed_at"] == pd.Timestamp("2019-12-31T01:04:05.000007Z")


def test_repeated_instants_are_written_once_each_and_stored_the_same(session: Session) -> None:
    """A column of few distinct instants (and NaT) takes the written-once path, unchanged."""
    from sqlalchemy import text

    from licensewatch.rules.phone_history import HISTORY
    from licensewatch.store.registrations import PHONE_REGISTRATIONS

    n = 40
    few = pd.Series(["2019-12-30T23:59:59.999999Z", None, "1999-09-09T09:09:09.5+02:00"] * 14)
    rows = pd.DataFrame(
        {
            "device_key": [f"sep{i:03d}" for i in range(n)],
            "first_observed_at": pd.Timestamp("2019-12-31T06:00:00.000001Z"),  # one instant
            "last_registered_at": pd.to_datetime(few[:n], format="ISO8601", utc=True),
            "last_status": "registered",
            # Each row its own instant: written value by value.
            "status_changed_at": pd.Timestamp("2019-12-01T00:00:00Z")
            + pd.to_timedelta(range(n), unit="s"),
        }
    )
    rows = model.conform(rows, HISTORY)
    table = PHONE_REGISTRATIONS
    dialect = session.get_bind().dialect
    repeated = bulk._timestamp_text(rows["first_observed_at"], table, "first_observed_at", dialect)
    assert repeated is not None and len(set(repeated)) == 1
    assert len({id(v) for v in repeated}) == 1  # one string for every row
    bulk.insert_frame(session, table, rows, list(HISTORY))
    fast = session.execute(text("SELECT * FROM phone_registrations ORDER BY device_key")).all()
    session.execute(text("DELETE FROM phone_registrations"))
    session.execute(insert(table), _frames.records(rows, list(HISTORY)))
    slow = session.execute(text("SELECT * FROM phone_registrations ORDER BY device_key")).all()
    assert fast == slow and len(fast) == n
    assert sum(r.last_registered_at is None for r in fast) == 13


def test_each_distinct_value_is_processed_once_and_rows_come_out_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[object] = []

    def process(value: object) -> str:
        calls.append(value)
        return f"{type(value).__name__}:{value!r}"

    column: list[object] = [AT, AT, None, 1, True, 1.0, AT, None, [1], [1], True]
    assert bulk._each_once(process, column) == [process(v) for v in column]
    calls.clear()
    bulk._each_once(process, column)
    # 1, True and 1.0 are equal but not the same value; a list is not hashable.
    assert calls == [AT, None, 1, True, 1.0, [1], [1]]

    monkeypatch.setattr(bulk, "DISTINCT_KEPT", 3)
    days = [datetime(2019, 1, d, tzinfo=UTC) for d in range(1, 5)]
    many_days = days[:3] * 10 + [days[3]] + days[:1] * 10
    calls.clear()
    assert bulk._each_once(process, many_days) == [f"datetime:{v!r}" for v in many_days]
    # Three kept, processed once each; from the fourth distinct value on, every value.
    assert len(calls) == 3 + 11
