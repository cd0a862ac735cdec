"""``licensewatch runs`` and ``runs show``: the runs and outbox rows, on both backends."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from licensewatch import store
from licensewatch.cli.parser import main
from tests import orgfiles
from tests.store.conftest import db_url, fresh_schema, pg_server_url  # noqa: F401 - fixtures

# The fixtures above are injected by name.

NEXT_DAY = "2020-01-01"


def _org(tmp_path: Path, url: str) -> Path:
    config = orgfiles.CONFIG.replace('url = "sqlite:///licensewatch.db"', f'url = "{url}"')
    return orgfiles.write_org(tmp_path / "org", config=config)


@pytest.fixture
def two_nights(tmp_path: Path, db_url: str) -> Path:  # noqa: F811 - fixture injection
    org = _org(tmp_path, db_url)
    assert main(["run", "--config", str(org), "--as-of", orgfiles.AS_OF]) == 0
    assert main(["run", "--config", str(org), "--as-of", NEXT_DAY]) == 0
    return org


def _out(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = 0) -> str:
    capsys.readouterr()
    assert main(argv) == code
    return capsys.readouterr().out


def test_runs_lists_the_last_runs_newest_first(
    two_nights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _out(capsys, ["runs", "--config", str(two_nights)]).splitlines()
    assert text[0].split() == [
        "id", "run", "key", "as", "of", "status", "started", "(UTC)", "took",
        "accounts", "phones", "findings", "annual", "USD", "emails",
    ]  # fmt: skip
    assert [line.split()[0] for line in text[1:]] == ["2", "1"]
    assert NEXT_DAY in text[1] and orgfiles.AS_OF in text[2]
    assert text[2].endswith("3 queued, 3 delivered") and text[1].endswith("none")
    docs = json.loads(_out(capsys, ["runs", "--config", str(two_nights), "--format", "json"]))
    first = docs[1]
    assert first["status"] == "ok" and first["as_of"] == orgfiles.AS_OF
    assert first["findings"] == len(orgfiles.EXPECTED)
    assert first["emails_queued"] == 3 and first["emails_by_status"] == {"sent": 3}
    assert first["counts"]["accounts_read"] > 0 and first["duration_s"] >= 0
    assert first["summary"]["run_key"] == first["run_key"]
    assert "warnings" not in first["summary"]  # the row keeps the kinds, not every item
    assert isinstance(first["summary"]["warnings_by_kind"], list)
    limited = json.loads(
        _out(capsys, ["runs", "--config", str(two_nights), "--format", "json", "--limit", "1"])
    )
    assert [d["id"] for d in limited] == [2]


def test_runs_show_prints_the_summary_and_each_email(
    two_nights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _out(capsys, ["runs", "show", orgfiles.AS_OF, "--config", str(two_nights)]).splitlines()
    assert lines[0].startswith("run 1 (") and lines[0].endswith(f"as of {orgfiles.AS_OF}: ok")
    assert "  brake     did not trip" in lines
    assert "  emails    3 queued by this run" in lines
    sent = [line for line in lines if line.startswith("    sent     notice")]
    assert len(sent) == 3 and all("1 attempts, delivered " in line for line in sent)
    doc = json.loads(
        _out(capsys, ["runs", "show", "1", "--config", str(two_nights), "--format", "json"])
    )
    assert doc["brake_reasons"] == []
    assert {m["status"] for m in doc["emails"]} == {"sent"}
    assert all(set(m["recipient_status"].values()) == {"accepted"} for m in doc["emails"])
    by_key = json.loads(
        _out(
            capsys,
            ["runs", "show", doc["run_key"], "--config", str(two_nights), "--format", "json"],
        )
    )
    assert by_key["id"] == 1


def test_runs_show_names_a_run_that_is_not_there(
    two_nights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["runs", "show", "99", "--config", str(two_nights)]) == 2
    assert capsys.readouterr().err.splitlines()[0] == (
        "licensewatch: error: no run '99' in the database (name a run by its id, its run key "
        "or its as-of day: see licensewatch runs)"
    )
    assert main(["runs", "show", "--config", str(two_nights)]) == 2
    assert "runs show needs the run" in capsys.readouterr().err


def test_runs_show_gives_the_brake_reasons_kept_in_the_row(
    tmp_path: Path,
    db_url: str,  # noqa: F811 - fixture injection
    capsys: pytest.CaptureFixture[str],
) -> None:
    org = _org(tmp_path, db_url)
    engine = store.open_engine(db_url)
    try:
        store.upgrade(engine)
        with Session(engine) as session:
            started = datetime(2020, 1, 2, 2, 0, tzinfo=UTC)
            run_id = store.start_run(
                session, as_of=date(2020, 1, 2), started_at=started, dry_run=False
            )
            store.finish_run(
                session,
                run_id,
                status="braked",
                finished_at=datetime(2020, 1, 2, 2, 1, 30, tzinfo=UTC),
                counts={"accounts_read": 3},
                annual_avoidable_cents=12_345,
                accrued_avoidable_cents=0,
                findings_count=1,
                summary={"brake_reasons": ["accounts fell from 6 to 3 (-50%)"]},
            )
            session.commit()
    finally:
        engine.dispose()
    lines = _out(capsys, ["runs", "show", "2020-01-02", "--config", str(org)]).splitlines()
    assert lines[0].endswith("as of 2020-01-02: braked")
    assert "(90.0 s)" in lines[2]
    assert "  findings  1; USD 123.45 a year avoidable, USD 0.00 accrued" in lines
    assert "  brake     accounts fell from 6 to 3 (-50%)" in lines
    row = _out(capsys, ["runs", "--config", str(org)]).splitlines()[1]
    assert row.split()[2:4] == ["2020-01-02", "braked"]


def test_a_run_key_of_decimal_digits_is_a_key_not_an_id(
    two_nights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlalchemy import text

    from licensewatch import store
    from licensewatch.config import load_settings

    engine = store.open_engine(load_settings(two_nights).database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE runs SET run_key = '835023032998' WHERE id = 1"))
    finally:
        engine.dispose()
    doc = json.loads(
        _out(
            capsys,
            ["runs", "show", "835023032998", "--config", str(two_nights), "--format", "json"],
        )
    )
    assert doc["id"] == 1
