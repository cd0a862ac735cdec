"""Every kind of bad input file stops the run: exit 2, the exact message, nothing written.

Table-driven over ``tests/fixtures/bad/<case>/``: each folder holds one bad
file and a ``case.toml`` manifest saying which file of the tiny organization
(``tests/orgfiles.py``) it replaces, any config edits and extra arguments, and
the exact error lines the run must print on stderr (``{org}`` is the
organization's folder, ``{today}`` and ``{a_year_from_today}`` the run's UTC
day and the same day next year). Each case starts from a copy of an organization that
already had a good run, and checks that the database (row counts of every
table) and ``reports/<as_of>/`` are exactly as that run left them.
"""

from __future__ import annotations

import shutil
import sqlite3
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from licensewatch.cli.parser import main
from tests import orgfiles

BAD = Path(__file__).resolve().parent / "fixtures" / "bad"
AS_OF = orgfiles.AS_OF
ERROR_START = "licensewatch: error:"


def manifests() -> list[Any]:
    cases = []
    for folder in sorted(p for p in BAD.iterdir() if p.is_dir()):
        case = tomllib.loads((folder / "case.toml").read_text(encoding="utf-8"))
        marks = []
        if "pending" in case:
            marks.append(pytest.mark.xfail(reason=case["pending"], strict=True))
        cases.append(pytest.param(folder, case, id=folder.name, marks=marks))
    return cases


def db_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as con:
        names = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        return {n: con.execute(f'select count(*) from "{n}"').fetchone()[0] for n in names}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def good_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The tiny organization after one good run (copied by each case)."""
    root = tmp_path_factory.mktemp("good") / "org"
    config = orgfiles.write_org(root)
    assert main(["run", "--config", str(config), "--as-of", AS_OF]) == 0
    yield root


def error_lines(stderr: str) -> str:
    """The error the CLI printed: from its first line to the end (log lines come before)."""
    start = stderr.find(ERROR_START)
    assert start >= 0, stderr
    return stderr[start:]


@pytest.mark.parametrize(("folder", "case"), manifests())
def test_bad_input_exits_2_with_the_exact_message_and_writes_nothing(
    good_org: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    folder: Path,
    case: dict[str, Any],
) -> None:
    org = tmp_path / "org"
    shutil.copytree(good_org, org)
    config = org / "licensewatch.toml"
    text = config.read_text(encoding="utf-8")
    for old, new in case.get("config", []):
        assert old in text, f"{folder.name}: config text {old!r} not found"
        text = text.replace(old, new)
    config.write_text(text, encoding="utf-8")
    shutil.copyfile(folder / case["file"], org / case["replaces"])
    reports = org / "reports" / AS_OF
    before_reports = snapshot(reports)
    before_db = db_counts(org / "licensewatch.db")
    capsys.readouterr()

    code = main(["run", "--config", str(config), "--as-of", AS_OF, *case.get("args", [])])

    err = capsys.readouterr().err
    today = pd.Timestamp.now(tz="UTC").normalize()
    expected = (
        case["stderr"]
        .lstrip("\n")
        .format(
            org=org,
            today=today.date(),
            a_year_from_today=(today + pd.DateOffset(years=1)).date(),
        )
    )
    assert "Traceback" not in err
    assert (code, error_lines(err)) == (2, expected)
    assert snapshot(reports) == before_reports
    assert db_counts(org / "licensewatch.db") == before_db
    assert not [p for p in reports.parent.iterdir() if p.name.startswith(".")]


def test_every_case_is_one_bad_file_with_a_manifest() -> None:
    folders = [p for p in BAD.iterdir() if p.is_dir()]
    assert len(folders) >= 15
    for folder in folders:
        case = tomllib.loads((folder / "case.toml").read_text(encoding="utf-8"))
        assert set(case) <= {"replaces", "file", "config", "args", "stderr", "pending"}, folder
        assert (folder / case["file"]).is_file(), folder
        assert case["stderr"].strip().startswith(ERROR_START), folder
