"""``[retention]``: old findings, email bodies and report folders go; totals and the cycle stay.

On SQLite and PostgreSQL, through the nightly run (after its commit) and
``licensewatch db prune [--dry-run]``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from licensewatch import store
from licensewatch.cli.db import db_prune
from licensewatch.config import load_settings
from licensewatch.errors import ConfigError
from licensewatch.night import run as pipeline
from licensewatch.store.history import run_aggregates
from licensewatch.store.outbox_table import OUTBOX, OUTBOX_BODIES
from licensewatch.store.tables import FINDINGS
from tests import orgfiles
from tests.store.conftest import db_url, fresh_schema, pg_server_url  # noqa: F401 - fixtures

D0 = date.fromisoformat(orgfiles.AS_OF)


def _org(tmp_path: Path, url: str, days: int) -> Path:
    config = orgfiles.CONFIG.replace('url = "sqlite:///licensewatch.db"', f'url = "{url}"')
    config += (
        f"\n[retention]\nfindings_days = {days}\noutbox_days = {days}\nreports_days = {days}\n"
    )
    return orgfiles.write_org(tmp_path / "org", config=config)


def _night(org: Path, day: date) -> None:
    at = datetime(day.year, day.month, day.day, 2, tzinfo=UTC)
    result = pipeline.run(load_settings(org), day, clock=lambda: at, read_clock=lambda: at)
    assert result.status == "ok"


def _state(url: str) -> dict[str, object]:
    engine = store.open_engine(url)
    try:
        with Session(engine) as session:
            per_run = session.execute(
                select(FINDINGS.c.run_id, func.count()).group_by(FINDINGS.c.run_id)
            ).all()
            bodies = session.execute(
                select(OUTBOX.c.as_of, func.length(OUTBOX_BODIES.c.message))
                .join(OUTBOX_BODIES, OUTBOX_BODIES.c.outbox_id == OUTBOX.c.id)
                .order_by(OUTBOX.c.id)
            ).all()
            totals = run_aggregates(session)
            return {
                "findings": dict(per_run),
                "bodies": [(d.isoformat(), n > 0) for d, n in bodies],
                "annual": totals["annual_avoidable_cents"].tolist(),
                "accounts": totals["dormant_accounts"].tolist(),
                "runs": len(totals),
            }
    finally:
        engine.dispose()


def test_the_night_prunes_old_rows_and_folders_and_keeps_totals(
    tmp_path: Path,
    db_url: str,  # noqa: F811 - fixture injection
) -> None:
    org = _org(tmp_path, db_url, days=15)
    reports = org.parent / "reports"
    _night(org, D0)
    _night(org, D0 + timedelta(days=10))
    before = _state(db_url)
    assert before["findings"] == {1: len(orgfiles.EXPECTED), 2: len(orgfiles.EXPECTED)}
    # The first night mails both departments and the unassigned queue; every body is kept.
    assert [b for b in before["bodies"] if b[0] == D0.isoformat()] == [(D0.isoformat(), True)] * 3
    assert all(kept for _, kept in before["bodies"])
    _night(org, D0 + timedelta(days=20))  # today - 15 days is after D0 only
    after = _state(db_url)
    assert after["findings"] == {2: len(orgfiles.EXPECTED), 3: len(orgfiles.EXPECTED)}
    old = [kept for day, kept in after["bodies"] if day == D0.isoformat()]  # type: ignore[attr-defined]
    assert old == [False, False, False]  # delivered, older than 15 days
    assert all(kept for day, kept in after["bodies"] if day != D0.isoformat())  # type: ignore[attr-defined]
    assert after["runs"] == 3
    assert after["annual"][:2] == before["annual"] and after["accounts"][:2] == before["accounts"]
    assert sorted(p.name for p in reports.iterdir() if p.is_dir()) == [
        (D0 + timedelta(days=10)).isoformat(),
        (D0 + timedelta(days=20)).isoformat(),
    ]


def test_db_prune_dry_run_then_prune_keeps_the_last_good_run_and_undelivered_mail(
    tmp_path: Path,
    db_url: str,  # noqa: F811 - fixture injection
    capsys: pytest.CaptureFixture[str],
) -> None:
    org = _org(tmp_path, db_url, days=365)
    _night(org, D0)
    _night(org, D0 + timedelta(days=40))
    engine = store.open_engine(db_url)
    try:
        with engine.begin() as conn:  # one of the first two messages never reached its focal point
            first = conn.execute(select(func.min(OUTBOX.c.id))).scalar_one()
            conn.execute(update(OUTBOX).where(OUTBOX.c.id == first).values(status="failed"))
    finally:
        engine.dispose()
    config = org.read_text(encoding="utf-8").replace(" = 365\n", " = 30\n")
    org.write_text(config, encoding="utf-8")
    before = _state(db_url)
    capsys.readouterr()
    # The machine's clock says years later: ages count from the newest as-of day, not from it.
    assert db_prune(org, dry_run=True) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(
        ": keeping findings 30 days, email bodies 30 days, report folders 30 days"
    )
    assert lines[1].startswith(
        f"retention (ages counted from {(D0 + timedelta(days=40)).isoformat()}) would delete: "
        f"findings {len(orgfiles.EXPECTED)} rows (of 1 runs; their totals stay), "
        "outbox 2 email bodies ("
    )
    assert lines[1].endswith(" bytes)") and "report folders 1 (" in lines[1]
    assert lines[2].endswith(f"reports/{D0.isoformat()}")
    assert _state(db_url) == before
    assert db_prune(org, dry_run=False) == 0
    assert " deleted: findings " in capsys.readouterr().out.splitlines()[1]
    after = _state(db_url)
    assert after["findings"] == {2: len(orgfiles.EXPECTED)}  # the last good run's stay
    bodies = after["bodies"]
    # The undelivered one keeps its body; the delivered ones of D0 lose theirs.
    assert bodies[:3] == [  # type: ignore[index]
        (D0.isoformat(), True),
        (D0.isoformat(), False),
        (D0.isoformat(), False),
    ]
    assert after["annual"] == before["annual"]
    assert [p.name for p in (org.parent / "reports").iterdir() if p.is_dir()] == [
        (D0 + timedelta(days=40)).isoformat()
    ]
    assert db_prune(org, dry_run=True) == 0
    assert "findings 0 rows (of 0 runs" in capsys.readouterr().out


def test_the_last_good_run_keeps_its_findings_and_folder_whatever_its_age(
    tmp_path: Path,
    db_url: str,  # noqa: F811 - fixture injection
    capsys: pytest.CaptureFixture[str],
) -> None:
    org = _org(tmp_path, db_url, days=1)
    _night(org, D0)
    engine = store.open_engine(db_url)
    try:
        with engine.begin() as conn:  # a later run the brake stopped: not a good one
            conn.execute(
                text(
                    "INSERT INTO runs (run_key, as_of, started_at, status, dry_run, counts, "
                    "annual_avoidable_cents, accrued_avoidable_cents, findings_count) VALUES "
                    "('braked', :day, :at, 'braked', false, '{}', 0, 0, 0)"
                ),
                {"day": D0 + timedelta(days=9), "at": datetime(2020, 1, 9, 2, tzinfo=UTC)},
            )
    finally:
        engine.dispose()
    assert db_prune(org, dry_run=False) == 0
    assert "findings 0 rows (of 0 runs" in capsys.readouterr().out
    assert _state(db_url)["findings"] == {1: len(orgfiles.EXPECTED)}
    assert (org.parent / "reports" / D0.isoformat()).is_dir()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            "findings_days = 0",
            "[retention] findings_days = 0: must be a whole number of days, at least 1",
        ),
        (
            'reports_days = "9"',
            "[retention] reports_days = '9': must be a whole number of days, at least 1",
        ),
        ("keep = 3", "unknown key keep in [retention]"),
    ],
)
def test_a_bad_retention_is_a_config_error_naming_the_key(
    tmp_path: Path, table: str, message: str
) -> None:
    config = orgfiles.CONFIG + f"\n[retention]\n{table}\n"
    org = orgfiles.write_org(tmp_path / "org", config=config)
    with pytest.raises(ConfigError) as err:
        load_settings(org)
    assert err.value.message.startswith(f"{org.name}: {message}")
