"""Runs that cannot step on each other or on finance (issue 13, items 15, 16 and 18).

One lock per database file however a config reaches it; no run removes another
live run's staging folder; a dry run never touches ``reports/<as_of>/``; a run
that fails leaves no schema; a re-run of an earlier day reads today's files.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from licensewatch.cli.parser import main
from licensewatch.config import load_settings
from licensewatch.night import outputs
from licensewatch.night import run as pipeline
from licensewatch.night.publish import remove_leftovers
from tests import orgfiles
from tests.test_cli import error_lines

AS_OF = orgfiles.AS_OF


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as con:
        return {name for (name,) in con.execute("select name from sqlite_master")}


def emls(org: Path) -> list[Path]:
    return sorted((org.parent / "outbox").glob("*.eml"))


# --- item 15: the lock follows the file, not the path ------------------------------------------


def test_a_config_reaching_the_database_through_a_symlink_takes_the_same_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = orgfiles.write_org(tmp_path / "first")
    # The second config reaches the same database and reports through symlinks.
    other = tmp_path / "second"
    (other / "data").mkdir(parents=True)
    (other / "data" / "lw.db").symlink_to(first.parent / "licensewatch.db")
    (other / "reports").symlink_to(first.parent / "reports", target_is_directory=True)
    text = first.read_text(encoding="utf-8").replace(
        'url = "sqlite:///licensewatch.db"', f'url = "sqlite:///{other / "data" / "lw.db"}"'
    )
    for name in ("exports", "rate_card.csv", "focal_points.csv", "exemptions.csv", "outbox"):
        text = text.replace(f'"{name}', f'"{first.parent / name}')
    second = other / "licensewatch.toml"
    second.write_text(text, encoding="utf-8")
    assert load_settings(second).reports_dir.resolve() == load_settings(first).reports_dir

    seen: dict[str, Any] = {}
    original = outputs.Background.wait  # the reports written, in the run's own process

    def second_run_while_staging(background: outputs.Background) -> None:
        # The first run holds the lock and its staging folder is live.
        original(background)
        capsys.readouterr()
        seen["code"] = main(["run", "--config", str(second), "--as-of", AS_OF])
        seen["err"] = capsys.readouterr().err
        [staging] = [p for p in first.parent.glob("reports/.*.staging-*") if p.is_dir()]
        seen["staging_kept"] = any(staging.iterdir())

    monkeypatch.setattr(outputs.Background, "wait", second_run_while_staging)
    assert main(["run", "--config", str(first), "--as-of", AS_OF]) == 0
    assert seen["code"] == 1
    [line] = [x for x in seen["err"].splitlines() if x.startswith("licensewatch: error")]
    assert "another licensewatch run is using" in line and "this run did nothing" in line
    assert seen["staging_kept"]
    assert len(emls(first)) == 3  # one notice per department, sent once
    with sqlite3.connect(first.parent / "licensewatch.db") as con:
        assert con.execute("select count(*) from runs").fetchone() == (1,)
    assert [p.name for p in (first.parent / "reports").iterdir()] == [AS_OF]


def test_a_run_on_another_database_leaves_a_live_runs_staging_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = orgfiles.write_org(tmp_path / "first")
    # Another deployment (its own database) misconfigured to share the reports folder.
    text = first.read_text(encoding="utf-8").replace(
        'url = "sqlite:///licensewatch.db"', f'url = "sqlite:///{tmp_path / "other.db"}"'
    )
    second = first.with_name("second.toml")
    second.write_text(text, encoding="utf-8")
    seen: dict[str, Any] = {}
    original = outputs.Background.wait  # the reports written, in the run's own process

    def other_run_while_staging(background: outputs.Background) -> None:
        original(background)
        seen["code"] = main(["run", "--config", str(second), "--as-of", "2020-01-01"])
        [staging] = [p for p in first.parent.glob(f"reports/.{AS_OF}.staging-*") if p.is_dir()]
        seen["staging_kept"] = (staging / "findings.csv").is_file()

    monkeypatch.setattr(outputs.Background, "wait", other_run_while_staging)
    assert main(["run", "--config", str(first), "--as-of", AS_OF]) == 0
    assert seen == {"code": 0, "staging_kept": True}
    reports = first.parent / "reports"
    assert sorted(p.name for p in reports.iterdir()) == [AS_OF, "2020-01-01"]
    assert (reports / AS_OF / "findings.csv").is_file()


def owned(folder: Path, name: str, pid: int) -> Path:
    staging = folder / name
    staging.mkdir(parents=True)
    (staging / "findings.csv").write_text("x\n", encoding="utf-8")
    doc = {"host": os.uname().nodename, "pid": pid, "run_key": name.rsplit("-", 1)[-1]}
    staging.with_name(name + ".owner").write_text(json.dumps(doc), encoding="utf-8")
    return staging


def test_leftovers_are_removed_only_when_their_owner_is_dead(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = owned(tmp_path, f".{AS_OF}.staging-aaaaaaaaaaaa", alive.pid)
        gone = owned(tmp_path, f".{AS_OF}.staging-bbbbbbbbbbbb", int(dead.stdout))
        legacy = tmp_path / f".{AS_OF}.staging-cccccccccccc"  # no owner: an older version's
        legacy.mkdir()
        remove_leftovers(tmp_path)
        assert live.is_dir() and live.with_name(live.name + ".owner").is_file()
        assert not gone.exists() and not gone.with_name(gone.name + ".owner").exists()
        assert not legacy.exists()
    finally:
        alive.kill()
        alive.wait()
    remove_leftovers(tmp_path)
    assert list(tmp_path.iterdir()) == []


# --- item 16: a dry run never touches what finance reads ----------------------------------------


def test_a_dry_run_after_a_real_run_leaves_the_published_reports_byte_identical(
    tmp_path: Path,
) -> None:
    org = orgfiles.write_org(tmp_path / "org")
    assert main(["run", "--config", str(org), "--as-of", AS_OF]) == 0
    reports = org.parent / "reports"
    published = snapshot(reports / AS_OF)
    # The dry run sees other figures (a new separation): they must not reach reports/<as_of>/.
    orgfiles.write_org(
        org.parent,
        separations=orgfiles.SEPARATIONS + "E1,alice@contoso.org,Alice,Finance,2019-11-01,left\n",
    )
    assert main(["run", "--config", str(org), "--as-of", AS_OF, "--dry-run"]) == 0
    assert snapshot(reports / AS_OF) == published
    dry = reports / "dry-run" / AS_OF
    summary = json.loads((dry / "run_summary.json").read_text(encoding="utf-8"))
    assert summary["dry_run"] is True
    assert (dry / "findings.csv").read_bytes() != published["findings.csv"]
    assert list((dry / "email-previews").glob("*.eml"))
    assert sorted(p.name for p in reports.iterdir()) == [AS_OF, "dry-run"]


# --- item 18: a failed first run leaves no schema; earlier days re-run with today's files ------


def test_a_first_run_that_fails_leaves_no_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org = orgfiles.write_org(tmp_path / "org")
    # --strict: the leaver with no account is an error, found after the database was opened.
    assert main(["run", "--config", str(org), "--as-of", AS_OF, "--strict"]) == 2
    assert error_lines(capsys.readouterr().err) == [
        "licensewatch: error: [sources.separations]: leaver 'Zed Gone' (employee_id 'E99', "
        "email 'zed@contoso.org'), separated 2019-10-01, matches no account (--strict treats "
        "data warnings as errors: fix the data, or run without --strict)"
    ]
    assert tables(org.parent / "licensewatch.db") == set()
    assert not (org.parent / "reports" / AS_OF).exists()
    # The next run creates the schema and records itself.
    assert main(["run", "--config", str(org), "--as-of", AS_OF]) == 0
    assert {"runs", "findings", "outbox", "alembic_version"} <= tables(
        org.parent / "licensewatch.db"
    )


def test_an_earlier_as_of_re_runs_with_the_exemptions_valid_today(tmp_path: Path) -> None:
    # Valid on 2020-06-01 (expires within a year of it), more than a year after AS_OF.
    exemptions = "subject,reason,approved_by,expires_on\ngina@contoso.org,leave,HR,2021-05-31\n"
    org = orgfiles.write_org(tmp_path / "org", exemptions=exemptions)
    settings = load_settings(org)
    today = lambda: datetime(2020, 6, 1, 2, 30, tzinfo=UTC)  # noqa: E731
    result = pipeline.run(settings, date(2019, 12, 31), clock=today)
    assert result.status == "ok"
    assert result.counts["exempted_findings"] == 1  # in force on the day assessed
    # A year and a day after today is still refused, whatever day is assessed.
    from licensewatch.errors import InputError

    org = orgfiles.write_org(
        tmp_path / "late",
        exemptions=exemptions.replace("2021-05-31", "2021-06-02"),
    )
    with pytest.raises(InputError, match="2021-06-02 is more than a year after 2020-06-01"):
        pipeline.run(load_settings(org), date(2019, 12, 31), clock=today)
