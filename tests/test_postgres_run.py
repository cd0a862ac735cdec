"""The whole job on PostgreSQL, as in production: same results, same lock rules (required in CI)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from licensewatch import store
from licensewatch.cli.parser import main
from licensewatch.errors import StorageError
from tests import orgfiles
from tests.store.conftest import fresh_schema, pg_server_url  # noqa: F401 - the fixture

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:  # noqa: F811 - fixture injection
    with fresh_schema(pg_server_url, "lw_run") as url:
        yield url


def counts(url: str) -> dict[str, int]:
    engine = store.open_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t: conn.execute(text(f'select count(*) from "{t}"')).scalar_one()
                for t in ("runs", "findings", "resource_state", "phone_registrations")
            }
    finally:
        engine.dispose()


def org_on(tmp_path: Path, url: str) -> Path:
    config = orgfiles.CONFIG.replace('url = "sqlite:///licensewatch.db"', f'url = "{url}"')
    return orgfiles.write_org(tmp_path / "org", config=config)


def test_runs_on_postgresql_like_on_sqlite(tmp_path: Path, pg_url: str) -> None:
    org = org_on(tmp_path, pg_url)
    assert main(["run", "--config", str(org), "--as-of", orgfiles.AS_OF]) == 0
    first = sorted(p.name for p in (org.parent / "outbox").glob("*.eml"))
    assert len(first) == 3
    assert counts(pg_url) == {
        "runs": 1,
        "findings": len(orgfiles.EXPECTED),
        "resource_state": len(orgfiles.EXPECTED),
        "phone_registrations": 4,
    }
    assert main(["run", "--config", str(org), "--as-of", orgfiles.AS_OF]) == 0
    assert sorted(p.name for p in (org.parent / "outbox").glob("*.eml")) == first
    assert counts(pg_url)["runs"] == 2


def test_a_second_run_on_the_same_postgresql_database_exits_at_once(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    org = org_on(tmp_path, pg_url)
    engine = store.open_engine(pg_url)
    try:
        with store.run_lock(engine):
            assert main(["run", "--config", str(org), "--as-of", orgfiles.AS_OF]) == 1
    finally:
        engine.dispose()
    assert "another licensewatch run" in capsys.readouterr().err
    assert main(["run", "--config", str(org), "--as-of", orgfiles.AS_OF]) == 0


def test_a_failed_run_leaves_postgresql_as_it_was(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = org_on(tmp_path, pg_url)
    assert main(["run", "--config", str(org), "--as-of", orgfiles.AS_OF]) == 0
    before = counts(pg_url)

    def fail(*args: object, **kwargs: object) -> None:
        raise StorageError("database went away")

    monkeypatch.setattr(store, "finish_run", fail)
    assert main(["run", "--config", str(org), "--as-of", "2020-01-01"]) == 1
    assert counts(pg_url) == before
