"""Operational safety: the brake, one run at a time, crash-safe re-runs, unreachable database."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from licensewatch import store
from licensewatch.cli.parser import main
from licensewatch.config import Policy
from licensewatch.rules.brake import Baseline, check
from tests import orgfiles

AS_OF = orgfiles.AS_OF
ROOT = Path(__file__).resolve().parents[1]


def table_rows(db: Path, table: str, where: str = "") -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as con:
        return list(con.execute(f"select * from {table} {where}"))


def emls(org: Path) -> list[Path]:
    return sorted((org.parent / "outbox").glob("*.eml"))


def strict_brake(config: str) -> str:
    return config.replace("max_dormant_fraction = 0.9\n", "")


# --- the brake, pure ---------------------------------------------------------------------------


def test_brake_reasons() -> None:
    policy = Policy(
        max_dormant_fraction=0.25,
        max_feed_drop=0.10,
        max_new_findings_factor=3.0,
        new_findings_floor=10,
    )
    ok = {
        "licensed_accounts": 100,
        "dormant_accounts": 25,
        "accounts_read": 100,
        "licenses_read": 120,
        "phones_read": 90,
        "new_findings": 30,
    }
    base = Baseline("2019-11-30", dict(ok))
    assert check(ok, base, policy) == []
    assert check(ok, None, policy) == []
    spike = check({**ok, "dormant_accounts": 26}, base, policy)
    assert len(spike) == 1 and "26 of 100 licensed accounts (26.0%)" in spike[0]
    drop = check({**ok, "accounts_read": 89}, base, policy)
    assert len(drop) == 1 and "accounts fell from 100" in drop[0] and "11.0% fewer" in drop[0]
    assert check({**ok, "phones_read": 81}, base, policy) == []  # exactly 10%: allowed
    jump = check({**ok, "new_findings": 91}, base, policy)
    assert len(jump) == 1 and "91 new findings" in jump[0]
    small = Baseline("2019-11-30", {**ok, "new_findings": 0})
    assert check({**ok, "new_findings": 30}, small, policy) == []  # floor 10 × 3
    assert len(check({**ok, "new_findings": 31}, small, policy)) == 1


# --- the brake, end to end ---------------------------------------------------------------------


def test_dormant_share_spike_brakes_sends_nothing_and_records_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org = orgfiles.write_org(tmp_path / "org", config=strict_brake(orgfiles.CONFIG))
    assert main(["run", "--config", str(org), "--as-of", AS_OF]) == 3
    captured = capsys.readouterr()
    assert "safety brake" in captured.err and "max_dormant_fraction" in captured.err
    assert "BRAKED" in captured.out
    assert emls(org) == []
    db = org.parent / "licensewatch.db"
    assert [r[0] for r in table_rows(db, "runs")] == [1]
    assert table_rows(db, "runs", "where status = 'braked'")
    assert table_rows(db, "resource_state") == []  # the brake does not move state
    reports = org.parent / "reports" / AS_OF
    assert "max_dormant_fraction" in (reports / "BRAKED.txt").read_text()
    summary = json.loads((reports / "run_summary.json").read_text())
    assert summary["braked"] is True and summary["brake_reasons"]
    assert len(list((reports / "email-previews").glob("*.eml"))) == 3


def test_override_brake_notifies_and_logs_who(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org = orgfiles.write_org(tmp_path / "org", config=strict_brake(orgfiles.CONFIG))
    assert main(["run", "--config", str(org), "--as-of", AS_OF, "--override-brake"]) == 0
    err = capsys.readouterr().err
    assert "safety brake OVERRIDDEN by" in err
    assert len(emls(org)) == 3


def test_half_the_users_missing_brakes_against_the_last_good_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org = orgfiles.write_org(tmp_path / "org")
    assert main(["run", "--config", str(org), "--as-of", AS_OF]) == 0
    first = {p.name: p.read_bytes() for p in emls(org)}
    # The second page of users is gone: a half-read sign-in feed.
    (org.parent / "exports" / "graph" / "users_0002.json").unlink()
    page1 = org.parent / "exports" / "graph" / "users_0001.json"
    doc = json.loads(page1.read_text())
    del doc["@odata.nextLink"]
    doc["value"] = doc["value"][:3]
    page1.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["run", "--config", str(org), "--as-of", "2020-01-01"]) == 3
    assert "accounts fell from 8" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in emls(org)} == first


# --- one run at a time -------------------------------------------------------------------------


def test_a_second_run_exits_at_once_while_the_lock_is_held(
    org: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = store.open_engine(f"sqlite:///{org.parent / 'licensewatch.db'}")
    try:
        with store.run_lock(engine):
            assert main(["run", "--config", str(org), "--as-of", AS_OF]) == 1
    finally:
        engine.dispose()
    err = capsys.readouterr().err
    db = re.escape(str(org.parent / "licensewatch.db"))
    assert re.fullmatch(
        rf"licensewatch: error: another licensewatch run is using {db} \(pid \d+ since "
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\); this run did nothing \(wait for it to finish; "
        r"a killed run releases the lock by itself\)\n",
        err,
    )
    assert emls(org) == [] and not (org.parent / "reports").exists()


LOCK_AND_DIE = """
import os, signal, sys
from licensewatch import store
engine = store.open_engine(sys.argv[1])
with store.run_lock(engine):
    print("locked", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_runs_lock_does_not_block_the_next_night(org: Path) -> None:
    url = f"sqlite:///{org.parent / 'licensewatch.db'}"
    proc = subprocess.run(
        [sys.executable, "-c", LOCK_AND_DIE, url],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == -signal.SIGKILL and "locked" in proc.stdout
    assert (org.parent / "licensewatch.db.lock").exists()
    assert main(["run", "--config", str(org), "--as-of", AS_OF]) == 0


# --- crash safety -------------------------------------------------------------------------------

KILL_BEFORE_SENDING = textwrap.dedent(
    """
    import os, signal, sys
    from licensewatch.night import run as pipeline
    from licensewatch.cli.parser import main

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    pipeline.deliver = die  # called right after the run's commit
    sys.exit(main(["run", "--config", sys.argv[1], "--as-of", sys.argv[2]]))
    """
)


def test_kill_9_between_commit_and_sending_then_rerun_sends_each_notice_once(org: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", KILL_BEFORE_SENDING, str(org), AS_OF],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    db = org.parent / "licensewatch.db"
    # The run committed (findings, state, outbox) and published its reports, then died.
    assert len(table_rows(db, "runs", "where status = 'ok'")) == 1
    assert len(table_rows(db, "findings")) == len(orgfiles.EXPECTED)
    assert len(table_rows(db, "outbox", "where status = 'pending'")) == 3
    assert emls(org) == []
    reports = org.parent / "reports"
    assert (reports / AS_OF / "findings.csv").exists()

    assert main(["run", "--config", str(org), "--as-of", AS_OF]) == 0
    assert len(emls(org)) == 3
    assert len(table_rows(db, "outbox", "where status = 'sent'")) == 3
    assert len(table_rows(db, "outbox")) == 3  # the re-run queued nothing new
    assert [p.name for p in reports.iterdir()] == [AS_OF]


def test_unreachable_database_fails_with_one_line_and_no_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = orgfiles.CONFIG.replace(
        'url = "sqlite:///licensewatch.db"',
        'url = "postgresql+psycopg://lw:S3cretPassw0rd@127.0.0.1:1/licensewatch"',
    )
    org = orgfiles.write_org(tmp_path / "org", config=config)
    assert main(["run", "--config", str(org), "--as-of", AS_OF]) == 1
    err = capsys.readouterr().err
    error_lines = [line for line in err.splitlines() if line.startswith("licensewatch: error")]
    assert len(error_lines) == 1 and "127.0.0.1" in error_lines[0]
    assert "S3cretPassw0rd" not in err
    assert emls(org) == []


def test_db_upgrade_command(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--config", str(org)]) == 0
    assert "upgraded from empty" in capsys.readouterr().out
    assert main(["db", "upgrade", "--config", str(org)]) == 0
    assert "already at the newest schema" in capsys.readouterr().out
