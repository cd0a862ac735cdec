"""Issue 8's fault injection with a real SMTP server listening: nothing may reach it.

Each fault asserts the exit code, what was recorded, and that the server saw
no connection at all (not even a greeting) from the faulty run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from licensewatch import store
from licensewatch.cli.parser import main
from tests.orgfiles import AS_OF
from tests.smtporg import rows, smtp_config, write_smtp_org
from tests.smtpserver import LoopbackSmtp

NEXT_DAY = "2020-01-01"


@pytest.fixture
def server() -> Iterator[LoopbackSmtp]:
    with LoopbackSmtp() as running:
        yield running


def run(config: Path, as_of: str = AS_OF) -> int:
    return main(["run", "--config", str(config), "--as-of", as_of])


def half_the_users(config: Path) -> None:
    graph = config.parent / "exports" / "graph"
    (graph / "users_0002.json").unlink()
    page = graph / "users_0001.json"
    doc = json.loads(page.read_text(encoding="utf-8"))
    del doc["@odata.nextLink"]
    doc["value"] = doc["value"][:3]
    page.write_text(json.dumps(doc), encoding="utf-8")


def broken_page(config: Path) -> None:
    page = config.parent / "exports" / "graph" / "users_0002.json"
    page.write_text(page.read_text(encoding="utf-8")[:200], encoding="utf-8")


@pytest.mark.parametrize(
    ("fault", "exit_code"),
    [(half_the_users, 3), (broken_page, 2)],
    ids=["sign-in feed returns half the users", "a source fails mid-way"],
)
def test_a_bad_second_night_sends_nothing(
    tmp_path: Path, server: LoopbackSmtp, fault: Callable[[Path], None], exit_code: int
) -> None:
    config = write_smtp_org(tmp_path / "org", server)
    assert run(config) == 0
    connections, received = server.connections, len(server.messages)
    fault(config)
    assert run(config, NEXT_DAY) == exit_code
    assert (server.connections, len(server.messages)) == (connections, received)
    db = config.parent / "licensewatch.db"
    assert rows(db, "select count(*) from outbox where status != 'sent'") == [(0,)]
    statuses = [s for (s,) in rows(db, "select status from runs order by id")]
    assert statuses == (["ok", "braked"] if exit_code == 3 else ["ok"])


def test_a_dormant_share_spike_brakes_with_no_connection(
    tmp_path: Path, server: LoopbackSmtp
) -> None:
    config = smtp_config(server.port).replace("max_dormant_fraction = 0.9\n", "")
    org = write_smtp_org(tmp_path / "org", server, config=config)
    assert run(org) == 3
    assert server.connections == 0
    db = org.parent / "licensewatch.db"
    assert rows(db, "select status from runs") == [("braked",)]
    assert rows(db, "select count(*) from outbox") == [(0,)]
    assert (org.parent / "reports" / AS_OF / "BRAKED.txt").exists()
    assert list((org.parent / "reports" / AS_OF / "email-previews").glob("*.eml"))


def test_a_concurrent_run_exits_at_once_with_no_connection(
    tmp_path: Path, server: LoopbackSmtp
) -> None:
    org = write_smtp_org(tmp_path / "org", server)
    engine = store.open_engine(f"sqlite:///{org.parent / 'licensewatch.db'}")
    try:
        with store.run_lock(engine):
            assert run(org) == 1
            assert main(["outbox", "send", "--config", str(org)]) == 1
    finally:
        engine.dispose()
    assert server.connections == 0


def test_an_unreachable_database_sends_nothing(tmp_path: Path, server: LoopbackSmtp) -> None:
    config = smtp_config(server.port).replace(
        'url = "sqlite:///licensewatch.db"',
        'url = "postgresql+psycopg://lw@127.0.0.1:1/licensewatch"',
    )
    org = write_smtp_org(tmp_path / "org", server, config=config)
    assert run(org) == 1
    assert server.connections == 0


def test_a_dry_run_sends_nothing_and_records_nothing(tmp_path: Path, server: LoopbackSmtp) -> None:
    org = write_smtp_org(tmp_path / "org", server)
    assert main(["run", "--config", str(org), "--as-of", AS_OF, "--dry-run"]) == 0
    assert server.connections == 0
    # Not even the schema: a dry run's transaction, schema creation included, is rolled back.
    tables = rows(org.parent / "licensewatch.db", "select name from sqlite_master")
    assert "outbox" not in {name for (name,) in tables}
    previews = org.parent / "reports" / "dry-run" / AS_OF / "email-previews"
    assert len(list(previews.glob("*.eml"))) == 3
