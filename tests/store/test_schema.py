"""Migrations build the schema the models describe, idempotently, on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select, text
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
