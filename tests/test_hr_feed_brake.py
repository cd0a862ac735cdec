"""The safety brake watches the HR separations feed: empty or sharply smaller stops the night."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from openpyxl import Workbook

from licensewatch.cli.parser import main
from licensewatch.config import Policy
from licensewatch.rules.brake import Baseline, check
from tests import orgfiles

AS_OF = orgfiles.AS_OF
HEADER = orgfiles.SEPARATIONS.splitlines()[0] + "\n"
#: Four leavers; the tiny organization's three plus one without an account.
FOUR = orgfiles.SEPARATIONS + "E98,yan@contoso.org,Yan Left,Finance,2019-09-30,Resignation\n"


def emls(config: Path) -> list[Path]:
    return sorted((config.parent / "outbox").glob("*.eml"))


def runs(config: Path) -> list[tuple[str, dict[str, int]]]:
    with sqlite3.connect(config.parent / "licensewatch.db") as con:
        rows = con.execute("select status, counts from runs order by id").fetchall()
    return [(status, json.loads(counts)) for status, counts in rows]


def run(config: Path, *args: str, as_of: str = AS_OF) -> int:
    return main(["run", "--config", str(config), "--as-of", as_of, *args])


def assert_braked(config: Path, err: str, reason: str, as_of: str = AS_OF) -> None:
    assert "safety brake" in err and reason in err
    reports = config.parent / "reports" / as_of
    assert reason in (reports / "BRAKED.txt").read_text(encoding="utf-8")
    summary = json.loads((reports / "run_summary.json").read_text(encoding="utf-8"))
    assert summary["braked"] is True and any(reason in r for r in summary["brake_reasons"])
    assert runs(config)[-1][0] == "braked"


def test_the_brake_reasons_for_the_hr_feed() -> None:
    policy = Policy(max_feed_drop=0.10)
    counts = {"accounts_read": 10, "separations_read": 20}
    base = Baseline("2019-11-30", dict(counts))
    assert check(counts, base, policy) == [] == check(counts, None, policy)
    assert check({**counts, "separations_read": 18}, base, policy) == []  # exactly 10 %
    drop = check({**counts, "separations_read": 10}, base, policy)
    assert drop == [
        "HR separations fell from 20 (last good run, 2019-11-30) to 10 (50.0% fewer), more "
        "than max_feed_drop 10%: was the pull complete?"
    ]
    empty = {**counts, "separations_read": 0}
    for baseline in (None, Baseline("2019-11-30", empty)):
        reasons = check(empty, baseline, policy)
        assert len(reasons) == 1 and "the HR separations feed is empty" in reasons[0]
    allowed = Policy(allow_empty_separations=True)
    assert check(empty, None, allowed) == [] == check(empty, Baseline("x", empty), allowed)
    assert len(check(empty, base, allowed)) == 1  # the drop from 20 still counts


def test_a_header_only_csv_on_the_first_run_brakes_and_sends_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = orgfiles.write_org(tmp_path / "org", separations=HEADER)
    assert run(config) == 3
    captured = capsys.readouterr()
    assert "BRAKED" in captured.out
    assert_braked(config, captured.err, "the HR separations feed is empty")
    assert emls(config) == []
    assert runs(config)[0][1]["separations_read"] == 0


def test_a_header_only_workbook_brakes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = orgfiles.CONFIG.replace(
        'kind = "csv"\npath = "exports/separations.csv"',
        'kind = "xlsx"\npath = "exports/separations.xlsx"',
    )
    assert 'kind = "xlsx"' in text
    config = orgfiles.write_org(tmp_path / "org", config=text)
    book = Workbook()
    book.active.append(HEADER.strip().split(","))
    book.save(config.parent / "exports" / "separations.xlsx")
    assert run(config) == 3
    assert_braked(config, capsys.readouterr().err, "the HR separations feed is empty")
    assert emls(config) == []


def test_a_query_returning_no_rows_brakes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hr = tmp_path / "hr.db"
    with sqlite3.connect(hr) as con:
        con.execute(
            "create table leavers (employee_id text, email text, name text, department text, "
            "separation_date text, reason text)"
        )
    monkeypatch.setenv("LW_TEST_HR_URL", f"sqlite:///{hr}")
    text = orgfiles.CONFIG.replace(
        'kind = "csv"\npath = "exports/separations.csv"',
        'kind = "sql"\nurl_env = "LW_TEST_HR_URL"\nquery = "SELECT * FROM leavers"',
    )
    assert 'kind = "sql"' in text
    config = orgfiles.write_org(tmp_path / "org", config=text)
    assert run(config) == 3
    assert_braked(config, capsys.readouterr().err, "the HR separations feed is empty")
    assert emls(config) == []


def test_half_the_leavers_missing_brakes_against_the_last_good_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = orgfiles.write_org(tmp_path / "org", separations=FOUR)
    assert run(config) == 0
    status, counts = runs(config)[0]
    assert (status, counts["separations_read"]) == ("ok", 4)  # stored with the run: the baseline
    sent = {p.name: p.read_bytes() for p in emls(config)}
    assert sent
    half = "".join(FOUR.splitlines(keepends=True)[:3])  # the header and two leavers
    (config.parent / "exports" / "separations.csv").write_text(half, encoding="utf-8")
    capsys.readouterr()
    assert run(config, as_of="2020-01-01") == 3
    err = capsys.readouterr().err
    reason = "HR separations fell from 4 (last good run, 2019-12-31) to 2 (50.0% fewer)"
    assert_braked(config, err, reason, as_of="2020-01-01")
    assert {p.name: p.read_bytes() for p in emls(config)} == sent
    assert runs(config)[-1][1]["separations_read"] == 2


def test_override_passes_an_empty_hr_feed_and_is_logged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = orgfiles.write_org(tmp_path / "org", separations=HEADER)
    assert run(config, "--override-brake") == 0
    err = capsys.readouterr().err
    assert "the HR separations feed is empty" in err and "safety brake OVERRIDDEN by" in err
    assert emls(config) and runs(config)[0][0] == "ok"


def test_an_organization_without_hr_feed_rows_can_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = orgfiles.CONFIG.replace("[policy]\n", "[policy]\nallow_empty_separations = true\n")
    config = orgfiles.write_org(tmp_path / "org", separations=HEADER, config=text)
    assert run(config) == 0
    assert "safety brake" not in capsys.readouterr().err
    assert emls(config)
