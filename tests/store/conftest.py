"""Storage fixtures: every test runs on SQLite and on PostgreSQL.

SQLite gets a fresh file per test. PostgreSQL (``LICENSEWATCH_TEST_PG_URL``,
default the local trust-auth server) gets a fresh schema per test, put first on
the search path through the URL and dropped afterwards. An unreachable server
skips the PostgreSQL tests, unless ``CI=true`` or ``LICENSEWATCH_REQUIRE_PG=1``
make them required, in which case they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from licensewatch import store
from licensewatch.errors import StorageError

PG_DEFAULT_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _pg_required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("LICENSEWATCH_REQUIRE_PG") == "1"


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """The PostgreSQL test server's URL, once it answered; skip (or fail when required) if not."""
    url = os.environ.get("LICENSEWATCH_TEST_PG_URL", PG_DEFAULT_URL)
    try:
        engine = store.open_engine(url)
    except StorageError as exc:
        pytest.fail(f"LICENSEWATCH_TEST_PG_URL is unusable: {exc.one_line()}")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        why = (str(exc.orig).strip().splitlines() or ["no answer"])[0]
        reason = f"PostgreSQL test server unreachable at {store.safe_url(url)}: {why}"
        if _pg_required():
            pytest.fail(f"{reason} (required: CI=true or LICENSEWATCH_REQUIRE_PG=1)")
        pytest.skip(reason)
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database of the parametrised backend, private to this test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'licensewatch.db'}"
        return
    with fresh_schema(request.getfixturevalue("pg_server_url")) as url:
        yield url


@contextmanager
def fresh_schema(server_url: str, prefix: str = "lw_test") -> Iterator[str]:
    """A URL whose search path is a new, empty PostgreSQL schema, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = store.open_engine(server_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(server_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the empty test database (not upgraded)."""
    eng = store.open_engine(db_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def migrated(engine: Engine) -> Engine:
    """The test database upgraded to the newest schema."""
    store.upgrade(engine)
    return engine


@pytest.fixture
def session(migrated: Engine) -> Iterator[Session]:
    """A session on the upgraded database; closing it rolls back whatever was not committed."""
    with Session(migrated) as s:
        yield s
