"""Migrations build the schema the models describe, idempotently, on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, func, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensewatch import store
from licensewatch.errors import StorageError
from licensewatch.store.db import alembic_config, model_metadata
from licensewatch.store.tables import Finding, Run
from tests.store.builders import many

TABLES = {"runs", "findings", "resource_state"}


def test_upgrade_from_empty_and_again(engine: Engine) -> None:
    assert store.schema_revision(engine) is None
    store.upgrade(engine)
    assert store.schema_revision(engine) == store.head_revision()
    assert set(inspect(engine).get_table_names()) >= TABLES

    with Session(engine) as session:
        store.start_run(
            session, as_of=date(2025, 1, 1), started_at=datetime.now(UTC), dry_run=False
        )
        session.commit()
    store.upgrade(engine)  # a second upgrade is a no-op and keeps the data
    store.check_schema(engine)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 1


def test_models_match_the_migrations(migrated: Engine) -> None:
    with migrated.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, model_metadata()) == []


def test_constraints_and_indexes_have_stable_names(migrated: Engine) -> None:
    inspector = inspect(migrated)
    assert {ix["name"] for ix in inspector.get_indexes("findings")} == {
        "ix_findings_run_id",
        "ix_findings_resource_id",
    }
    assert [fk["name"] for fk in inspector.get_foreign_keys("findings")] == [
        "fk_findings_run_id_runs"
    ]
    assert inspector.get_pk_constraint("runs")["name"] == "pk_runs"
    assert {uq["name"] for uq in inspector.get_unique_constraints("runs")} == {"uq_runs_run_key"}


def test_deleting_a_run_deletes_its_findings(session: Session) -> None:
    # On SQLite this only holds with PRAGMA foreign_keys=ON, which open_engine sets.
    run_id = store.start_run(
        session, as_of=date(2025, 1, 1), started_at=datetime.now(UTC), dry_run=False
    )
    store.save_findings(session, run_id, many(3))
    session.delete(session.get_one(Run, run_id))
    session.flush()
    assert session.scalar(select(func.count()).select_from(Finding)) == 0


def test_check_schema_refuses_an_empty_database(engine: Engine) -> None:
    with pytest.raises(StorageError, match=r"wrong schema.*none"):
        store.check_schema(engine)


def test_a_foreign_database_is_a_storage_error(engine: Engine) -> None:
    # resource_state is the last table the first revision creates.
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE resource_state (id INTEGER PRIMARY KEY, what TEXT)"))
    with pytest.raises(StorageError, match="could not upgrade the schema") as caught:
        store.upgrade(engine)
    assert "\n" not in caught.value.one_line()
    # The failed upgrade left nothing behind: DDL is transactional on both backends.
    assert set(inspect(engine).get_table_names()) == {"resource_state"}


def test_a_newer_schema_is_a_storage_error(migrated: Engine) -> None:
    with migrated.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StorageError, match="wrong schema") as caught:
        store.upgrade(migrated)
    assert "newer licensewatch" in caught.value.one_line()


def test_0004_keeps_sent_emails_delivered_and_allows_the_new_statuses(engine: Engine) -> None:
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0003")
        conn.execute(
            text(
                "INSERT INTO outbox (key, department, kind, as_of, recipients, subject, "
                "resource_ids, message, status, created_at, attempts, sent_at) VALUES "
                "('k', 'Finance', 'notice', '2020-01-01', 'a@x.org', 's', '[]', :m, 'sent', "
                ":t, 1, :t)"
            ),
            {"m": b"x", "t": datetime(2020, 1, 1, 6, tzinfo=UTC)},
        )
    store.upgrade(engine)
    with engine.begin() as conn:
        delivered = conn.execute(text("SELECT delivered_at FROM outbox")).scalar_one()
        assert delivered is not None
        conn.execute(text("UPDATE outbox SET status = 'unknown'"))
    with pytest.raises(IntegrityError, match="ck_outbox_status"), engine.begin() as conn:
        conn.execute(text("UPDATE outbox SET status = 'lost'"))


def _check_text(conn: Connection, table: str, name: str) -> str:
    if conn.dialect.name == "postgresql":
        return str(
            conn.execute(
                text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :n"),
                {"n": name},
            ).scalar_one()
        )
    sql = conn.execute(
        text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}
    ).scalar_one()
    return str(sql).split(f"CONSTRAINT {name} CHECK", 1)[1].split("CONSTRAINT", 1)[0]


def _a_list(check: str) -> bool:
    """Whether a check tests a list (SQLite keeps ``IN (…)``, PostgreSQL shows ``= ANY``)."""
    return " IN (" in check.upper() or "= ANY (ARRAY[" in check.upper()


def _registration(conn: Connection, key: str, status: str) -> None:
    conn.execute(
        text(
            "INSERT INTO phone_registrations (device_key, first_observed_at, last_status, "
            "status_changed_at) VALUES (:k, :t, :s, :t)"
        ),
        {"k": key, "s": status, "t": datetime(2020, 1, 1, tzinfo=UTC)},
    )


def test_0010_checks_the_same_statuses_with_comparisons_and_back(engine: Engine) -> None:
    name = "ck_phone_registrations_last_status"
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0009")
        assert _a_list(_check_text(conn, "phone_registrations", name))
        _registration(conn, "sep1", "registered")
    store.upgrade(engine)
    with engine.begin() as conn:
        check = _check_text(conn, "phone_registrations", name)
        assert not _a_list(check) and "partially_registered" in check and " OR " in check
        _registration(conn, "sep2", "partially_registered")
        assert conn.execute(text("SELECT count(*) FROM phone_registrations")).scalar_one() == 2
    for status in ("lost", "Registered"):
        with pytest.raises(IntegrityError, match=name), engine.begin() as conn:
            _registration(conn, "sep3", status)
    with engine.connect() as conn:
        for column, value in (("status", "'removed'"), ("resource_kind", "'phone'")):
            check = _check_text(conn, "resource_state", f"ck_resource_state_{column}")
            assert not _a_list(check) and value in check and " OR " in check
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0009")
        assert _a_list(_check_text(conn, "phone_registrations", name))
        assert conn.execute(text("SELECT count(*) FROM phone_registrations")).scalar_one() == 2
    with pytest.raises(IntegrityError, match=name), engine.begin() as conn:
        _registration(conn, "sep3", "lost")


def _queued(conn: Connection, key: str, message: bytes) -> None:
    conn.execute(
        text(
            "INSERT INTO outbox (key, department, kind, as_of, recipients, subject, "
            "resource_ids, message, status, created_at, attempts) VALUES "
            "(:k, 'Finance', 'notice', '2020-01-01', 'a@x.org', 's', '[]', :m, 'pending', "
            ":t, 0)"
        ),
        {"k": key, "m": message, "t": datetime(2020, 1, 1, 6, tzinfo=UTC)},
    )


def test_0011_moves_the_messages_bytes_to_outbox_bodies_and_back(engine: Engine) -> None:
    body = b"Subject: s\r\n\r\n" + bytes(range(256)) * 40
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0010")
        _queued(conn, "k1", body)
        _queued(conn, "k2", b"")  # a body retention emptied
    store.upgrade(engine)
    with engine.begin() as conn:
        assert "message" not in {c["name"] for c in inspect(conn).get_columns("outbox")}
        moved = conn.execute(
            text(
                "SELECT o.key, b.message FROM outbox o JOIN outbox_bodies b "
                "ON b.outbox_id = o.id ORDER BY o.key"
            )
        ).all()
        assert [(k, bytes(m)) for k, m in moved] == [("k1", body), ("k2", b"")]
        conn.execute(text("DELETE FROM outbox WHERE key = 'k2'"))  # its body goes with it
        assert conn.execute(text("SELECT count(*) FROM outbox_bodies")).scalar_one() == 1
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0010")
        assert "outbox_bodies" not in inspect(conn).get_table_names()
        back = conn.execute(text("SELECT key, message FROM outbox")).all()
        assert [(k, bytes(m)) for k, m in back] == [("k1", body)]


def test_a_status_change_does_not_write_the_messages_bytes_again(session: Session) -> None:
    from licensewatch.store import outbox

    body = b"Subject: s\r\n\r\n" + b"x" * 400_000
    queued = outbox.Queued("k", "Finance", outbox.MessageKind.NOTICE, ("a@x.org",), "s", (), body)
    outbox.queue(session, [queued], as_of=date(2020, 1, 1), run_id=None, now=datetime.now(UTC))
    session.commit()
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:  # what the status change writes is all the write-ahead log holds afterwards
        session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        wal = Path(str(session.get_bind().url.database) + "-wal")
        assert wal.stat().st_size == 0
    row = outbox.get(session, outbox.due(session, datetime.now(UTC))[0])
    outbox.mark_sending(session, row, now=datetime.now(UTC), transport="smtp")
    session.commit()
    if sqlite:  # a few pages, not the 100 the bytes take
        assert 0 < wal.stat().st_size < 40 * 4096
    message_id = row.id
    session.expunge_all()
    assert outbox.get(session, message_id).message == body  # read when asked for
