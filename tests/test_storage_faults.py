"""Storage faults are one line and exit 1, and leave the state safe (issue 13, item 7).

A full filesystem under ``reports/`` (ENOSPC while writing or publishing), a
database that is really full (SQLite ``max_page_count``), a failed commit on
SQLite and PostgreSQL: each gives exactly one error line on stderr, no
traceback, and the previous reports and the database as they were.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from licensewatch import store
from licensewatch.cli.parser import main
from licensewatch.night import outputs
from tests import orgfiles
from tests.smtporg import rows
from tests.store.conftest import fresh_schema, pg_server_url  # noqa: F401 - the fixture

AS_OF = orgfiles.AS_OF
NO_SPACE = os.strerror(errno.ENOSPC)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def run(config: Path, *extra: str) -> int:
    return main(["--log-level", "ERROR", "run", "--config", str(config), "--as-of", AS_OF, *extra])


def counts(config: Path) -> dict[str, int]:
    names = ("runs", "findings", "resource_state", "outbox")
    return {name: int(str(rows(config, f"select count(*) from {name}")[0][0])) for name in names}


def the_error(err: str) -> str:
    """The one line on stderr (logs are at ERROR level, so nothing else may be there)."""
    assert "Traceback" not in err
    [line] = err.splitlines()
    assert line.startswith("licensewatch: error: ")
    return line


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def org(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """The tiny organization after one good run, on SQLite or PostgreSQL."""
    config = orgfiles.CONFIG
    with_schema = None
    if request.param == "postgresql":
        with_schema = fresh_schema(request.getfixturevalue("pg_server_url"), "lw_faults")
        url = with_schema.__enter__()
        config = config.replace('url = "sqlite:///licensewatch.db"', f'url = "{url}"')
    path = orgfiles.write_org(tmp_path / "org", config=config)
    try:
        assert run(path) == 0
        yield path
    finally:
        if with_schema is not None:
            with_schema.__exit__(None, None, None)


@pytest.fixture
def sqlite_org(tmp_path: Path) -> Path:
    path = orgfiles.write_org(tmp_path / "org")
    assert run(path) == 0
    return path


def test_enospc_while_writing_the_reports(
    org: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reports, before, emails = org.parent / "reports", counts(org), snapshot(org.parent / "outbox")
    published = snapshot(reports / AS_OF)
    write_csv = outputs.write_csv

    def full_disk(frame: Any, path: Path, *args: Any, **kwargs: Any) -> None:
        if path.name == "unassigned.csv":  # some files are written, then the disk is full
            path.write_bytes(b"subject,department\nfra")
            raise OSError(errno.ENOSPC, NO_SPACE, str(path))
        write_csv(frame, path, *args, **kwargs)

    monkeypatch.setattr(outputs, "write_csv", full_disk)
    capsys.readouterr()
    assert run(org) == 1
    line = the_error(capsys.readouterr().err)
    assert line.startswith("licensewatch: error: could not write the reports (")
    assert f"unassigned.csv): {NO_SPACE} (nothing was recorded or sent" in line
    assert snapshot(reports / AS_OF) == published
    assert [p.name for p in reports.iterdir()] == [AS_OF]  # no staging left behind
    assert counts(org) == before and snapshot(org.parent / "outbox") == emails


def test_enospc_while_publishing_keeps_the_previous_reports(
    sqlite_org: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = sqlite_org.parent / "reports"
    published = snapshot(reports / AS_OF)
    replace = os.replace

    def full_disk(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if Path(src).name.startswith(f".{AS_OF}.staging-"):  # the swap into reports/<as_of>
            raise OSError(errno.ENOSPC, NO_SPACE, str(src), None, str(dst))
        replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", full_disk)
    capsys.readouterr()
    assert run(sqlite_org) == 1
    line = the_error(capsys.readouterr().err)
    assert line.startswith("licensewatch: error: could not publish the reports (")
    assert "the run is recorded and its emails are queued" in line
    monkeypatch.undo()
    assert snapshot(reports / AS_OF) == published  # put back after the failed swap
    assert run(sqlite_org) == 0  # the next run publishes and removes the leftovers
    assert [p.name for p in reports.iterdir()] == [AS_OF]


def test_a_really_full_sqlite_database(
    sqlite_org: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = sqlite_org.parent / "licensewatch.db"
    before, published = counts(sqlite_org), snapshot(sqlite_org.parent / "reports" / AS_OF)
    with sqlite3.connect(db) as con:
        con.execute("vacuum")  # no free pages left to reuse
        [(pages,)] = list(con.execute("pragma page_count"))
    open_engine = store.open_engine

    def full(url: str) -> Any:
        engine = open_engine(url)

        @event.listens_for(engine, "connect")
        def _cap(dbapi_connection: Any, _record: Any) -> None:
            # The database may not grow by one page: SQLite answers SQLITE_FULL for real.
            dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

        return engine

    monkeypatch.setattr(store, "open_engine", full)
    capsys.readouterr()
    assert run(sqlite_org) == 1
    line = the_error(capsys.readouterr().err)
    assert ": database or disk is full (the database's disk is full: free space" in line
    assert counts(sqlite_org) == before
    assert snapshot(sqlite_org.parent / "reports" / AS_OF) == published


def test_a_full_disk_at_the_final_commit(
    org: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before, published = counts(org), snapshot(org.parent / "reports" / AS_OF)

    def full(self: Session) -> None:
        raise OperationalError("COMMIT", {}, Exception("database or disk is full"))

    monkeypatch.setattr(Session, "commit", full)
    capsys.readouterr()
    assert run(org) == 1
    line = the_error(capsys.readouterr().err)
    assert line.startswith("licensewatch: error: could not commit the run in ")
    assert ": database or disk is full (nothing was recorded or sent" in line
    monkeypatch.undo()
    assert counts(org) == before
    assert snapshot(org.parent / "reports" / AS_OF) == published


def test_an_os_error_no_boundary_named_is_still_one_line(
    sqlite_org: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    out = blocker / "finance"
    capsys.readouterr()
    code = main(["report", "finance", "--config", str(sqlite_org), "--out", str(out)])
    assert code == 1
    line = the_error(capsys.readouterr().err)
    assert line.startswith(f"licensewatch: error: report finance failed: Not a directory ({out}")


def test_a_bug_keeps_its_traceback(sqlite_org: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def bug(*args: object, **kwargs: object) -> None:
        raise KeyError("a bug, not a storage fault")

    monkeypatch.setattr(outputs, "write_csv", bug)
    with pytest.raises(KeyError, match="a bug"):
        run(sqlite_org)
