"""A stored multi-run history: the tiny organization run by the real pipeline on several days."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.orm import Session

from licensewatch import store
from licensewatch.config import Settings, load_settings
from licensewatch.night import run as pipeline
from licensewatch.night.reports import write_run_reports
from licensewatch.reports.history import history_for_run, realized_savings_cents, stored_as_costed
from licensewatch.rules.pricing import rates_in_force
from licensewatch.sources.reference import read_rate_card
from tests import orgfiles

#: The days the tiny organization is run on: two month ends, a mid-month day, the year end.
RUN_DAYS = (date(2019, 10, 31), date(2019, 11, 30), date(2019, 12, 15), date(2019, 12, 31))


@dataclass(frozen=True)
class History:
    """The organization's settings after the runs of :data:`RUN_DAYS`."""

    settings: Settings

    def reports(self, day: date) -> Path:
        """The folder the pipeline wrote that day's reports to."""
        return self.settings.reports_dir / day.isoformat()


def _clock(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """The tiny organization run on each of :data:`RUN_DAYS` (read only: do not write to it)."""
    config = orgfiles.write_org(tmp_path_factory.mktemp("history") / "org")
    settings = load_settings(config)
    for day in RUN_DAYS:
        result = pipeline.run(settings, day, clock=lambda day=day: _clock(day))
        assert result.status == "ok", result.brake_reasons
    return History(settings)


def write_reports_like_the_pipeline(
    settings: Settings, day: date, folder: Path, braked_reason: str | None = None
) -> None:
    """Write the run reports of ``day`` as the pipeline does, from what that run stored."""
    engine = store.open_engine(settings.database_url)
    try:
        with Session(engine) as session:
            run = next(
                r for r in store.list_runs(session, 50) if r.as_of == day and r.status == "ok"
            )
            costed = stored_as_costed(store.findings_of_run(session, run.id))
            write_run_reports(
                folder,
                costed,
                as_of=pd.Timestamp(day, tz="UTC"),
                rate_card_in_force=rates_in_force(
                    read_rate_card(settings.rate_card), pd.Timestamp(day, tz="UTC")
                ),
                history=history_for_run(session, costed, as_of=day),
                realized_savings_cents=realized_savings_cents(session, as_of=day),
                braked_reason=braked_reason,
                templates_dir=settings.templates_dir,
            )
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def year_end_reports(history: History, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """finance_summary.xlsx and .html of the 2019-12-31 run, next to copies of its CSVs."""
    folder = tmp_path_factory.mktemp("year_end")
    day = RUN_DAYS[-1]
    for name in ("findings.csv", "finance_summary.csv"):
        (folder / name).write_bytes((history.reports(day) / name).read_bytes())
    write_reports_like_the_pipeline(history.settings, day, folder)
    return folder


@pytest.fixture
def session_of(history: History) -> Iterator[Session]:
    """A read-only session on the history's database (rolled back on close)."""
    engine = store.open_engine(history.settings.database_url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()
