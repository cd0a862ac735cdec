"""An HR database for the ``sql`` separations source: SQLite, and PostgreSQL when reachable.

PostgreSQL (``LICENSEWATCH_TEST_PG_URL``, default the local trust-auth server)
gets a fresh schema per test, first on the search path through the URL and
dropped afterwards. An unreachable server skips the PostgreSQL cases, unless
``CI=true`` or ``LICENSEWATCH_REQUIRE_PG=1`` make them required (then they fail).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    Date,
    Engine,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

PG_DEFAULT_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"

METADATA = MetaData()
LEAVERS = Table(
    "hr_leavers",
    METADATA,
    Column("index_number", String(20)),
    Column("mail", String(200)),
    Column("full_name", String(200)),
    Column("org_unit", String(50)),
    Column("sep_date", Date),
    Column("sep_reason", String(100)),
    Column("sep_text", String(20)),
)
ROWS = [
    {
        "index_number": "1003",
        "mail": "AlexW@contoso.com",
        "full_name": "Alex Wilber",
        "org_unit": "Marketing",
        "sep_date": date(2019, 11, 30),
        "sep_reason": "Resignation",
        "sep_text": "30/11/2019",
    },
    {
        "index_number": "1004",
        "mail": None,
        "full_name": "Zed Gone",
        "org_unit": "Legal",
        "sep_date": date(2019, 12, 31),
        "sep_reason": "End of contract",
        "sep_text": "31/12/2019",
    },
]


@dataclass(frozen=True)
class HrDatabase:
    """A database holding the ``hr_leavers`` table, and an engine that may write to it."""

    backend: str
    url: str
    engine: Engine

    def count(self) -> int:
        """Rows left in ``hr_leavers``."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(LEAVERS)).scalar_one())


def _pg_required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("LICENSEWATCH_REQUIRE_PG") == "1"


@pytest.fixture(scope="session")
def hr_pg_server() -> str:
    """The PostgreSQL test server's URL once it answered; skip (or fail when required) if not."""
    url = os.environ.get("LICENSEWATCH_TEST_PG_URL", PG_DEFAULT_URL)
    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        reason = f"PostgreSQL test server unreachable: {str(exc.orig).strip().splitlines()[:1]}"
        if _pg_required():
            pytest.fail(f"{reason} (required: CI=true or LICENSEWATCH_REQUIRE_PG=1)")
        pytest.skip(reason)
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hr_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HrDatabase]:
    """A fresh HR database with two leavers, of the parametrised backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hr.db'}"
        engine = create_engine(url)
        METADATA.create_all(engine)
        with engine.begin() as conn:
            conn.execute(LEAVERS.insert(), ROWS)
        yield HrDatabase("sqlite", url, engine)
        engine.dispose()
        return
    server: str = request.getfixturevalue("hr_pg_server")
    schema = f"lw_hr_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = create_engine(url)
    try:
        METADATA.create_all(engine)
        with engine.begin() as conn:
            conn.execute(LEAVERS.insert(), ROWS)
        yield HrDatabase("postgresql", url.render_as_string(hide_password=False), engine)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
