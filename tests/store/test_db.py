"""Opening databases: driver choice, SQLite tuning, UTC timestamps, errors without passwords."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from licensewatch import store
from licensewatch.errors import StorageError
from licensewatch.store.tables import UTCDateTime

PASSWORD = "S3cret-Pa55w0rd"
UNREACHABLE = f"postgresql://lw_user:{PASSWORD}@127.0.0.1:1/licensewatch"


def test_postgresql_urls_get_the_psycopg_driver() -> None:
    for url in ("postgresql://u@db.example.org/lw", "postgres://u@db.example.org/lw"):
        engine = store.open_engine(url)
        assert engine.url.drivername == "postgresql+psycopg"
        engine.dispose()
    given = store.open_engine("postgresql+psycopg://u@db.example.org/lw?connect_timeout=3")
    assert given.url.query["connect_timeout"] == "3"
    given.dispose()


def test_unreachable_postgresql_is_a_storage_error_without_the_password() -> None:
    engine = store.open_engine(UNREACHABLE)
    try:
        for attempt in (store.upgrade, store.schema_revision):
            with pytest.raises(StorageError) as caught:
                attempt(engine)
            line = caught.value.one_line()
            assert PASSWORD not in line and PASSWORD not in str(caught.value)
            assert "\n" not in line
            assert "127.0.0.1:1" in line and "***" in line
        with Session(engine) as session, pytest.raises(StorageError) as caught:
            store.last_good_run(session)
        assert PASSWORD not in caught.value.one_line()
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "not a valid database URL"),
        (f"mysql://lw:{PASSWORD}@127.0.0.1/lw", "unsupported database 'mysql'"),
        (f"postgresql+nosuchdriver://lw:{PASSWORD}@127.0.0.1/lw", "no driver"),
    ],
)
def test_unusable_urls_are_storage_errors(url: str, expected: str) -> None:
    with pytest.raises(StorageError, match=expected) as caught:
        store.open_engine(url)
    assert PASSWORD not in caught.value.one_line()


def test_sqlite_is_tuned_on_every_connection(tmp_path: Path) -> None:
    engine = store.open_engine(f"sqlite:///{tmp_path / 'lw.db'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
    finally:
        engine.dispose()


def test_utc_datetime_refuses_naive_and_normalizes_to_utc() -> None:
    column = UTCDateTime()
    lite = store.open_engine("sqlite://").dialect
    pg = store.open_engine("postgresql://u@db.example.org/lw").dialect
    with pytest.raises(ValueError, match="naive"):
        column.process_bind_param(datetime(2025, 1, 1, 12), lite)
    geneva = datetime(2025, 1, 1, 12, tzinfo=timezone(timedelta(hours=1)))
    assert column.process_bind_param(geneva, lite) == datetime(2025, 1, 1, 11)
    assert column.process_bind_param(geneva, pg) == datetime(2025, 1, 1, 11, tzinfo=UTC)
    assert column.process_result_value(datetime(2025, 1, 1, 11), lite) == geneva
    assert column.process_result_value(geneva, pg).tzinfo is UTC  # type: ignore[union-attr]


def test_timestamps_come_back_aware_utc(session: Session) -> None:
    started = datetime(2025, 3, 1, 23, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-5)))
    store.start_run(session, as_of=date(2025, 3, 2), started_at=started, dry_run=True)
    session.commit()
    session.expire_all()
    (run,) = store.list_runs(session)
    assert run.started_at.tzinfo is UTC
    assert run.started_at == started
    assert run.started_at.hour == 4 and run.started_at.microsecond == 123456


def test_sqlite_stores_utc_text(tmp_path: Path) -> None:
    engine = store.open_engine(f"sqlite:///{tmp_path / 'lw.db'}")
    try:
        store.upgrade(engine)
        started = datetime(2025, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
        with Session(engine) as session:
            store.start_run(session, as_of=date(2025, 3, 2), started_at=started, dry_run=False)
            session.commit()
        with engine.connect() as conn:
            raw = conn.execute(text("SELECT started_at FROM runs")).scalar()
        assert raw == "2025-03-02 04:30:00.000000"
    finally:
        engine.dispose()


def test_naive_datetimes_are_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="started_at must be timezone-aware"):
        store.start_run(
            session, as_of=date(2025, 1, 1), started_at=datetime(2025, 1, 1), dry_run=False
        )


def test_session_factory_binds_the_engine(migrated: Engine) -> None:
    make = store.session_factory(migrated)
    with make() as session:
        assert store.list_runs(session) == []
