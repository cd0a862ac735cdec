"""The night's steps alone, and what ``run()`` lets a caller inject instead of patching."""

from __future__ import annotations

import gc
import multiprocessing
import sqlite3
import threading
import time
import weakref
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path

import pandas as pd
import pytest

from licensewatch import model
from licensewatch.config import load_settings
from licensewatch.errors import ConfigError, SourceError
from licensewatch.night import run as pipeline
from licensewatch.night import steps
from licensewatch.night.context import Assessed, Gathered, Inputs, RunContext, RunOptions
from licensewatch.night.inputs import Sources, build_sources, pull_local_first
from licensewatch.night.stages import Stages
from licensewatch.night.steps import read_inputs, status_of
from licensewatch.notify.transports.base import Transport
from licensewatch.sources.interface import PhonesPull, PhonesSource
from licensewatch.store import RunStatus
from tests import orgfiles


class Recording(Transport):
    """Keeps what it was handed, in order."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def send(self, message: EmailMessage, *, key: str) -> None:
        self.keys.append(key)


class NoPhones(PhonesSource):
    def pull(self) -> PhonesPull:
        return PhonesPull(model.empty(model.PHONES))


@pytest.mark.parametrize(
    ("options", "braked", "status"),
    [
        (RunOptions(), False, RunStatus.OK),
        (RunOptions(), True, RunStatus.BRAKED),
        (RunOptions(dry_run=True), True, RunStatus.DRY_RUN),
        (RunOptions(dry_run=True), False, RunStatus.DRY_RUN),
    ],
)
def test_a_run_status_follows_the_dry_run_then_the_brake(
    options: RunOptions, braked: bool, status: RunStatus
) -> None:
    assert status_of(options, braked=braked) is status


def test_reading_the_inputs_takes_its_sources_and_its_clock(tmp_path: Path) -> None:
    settings = load_settings(orgfiles.write_org(tmp_path / "org"))
    real = build_sources(settings)
    sources = Sources(real.accounts, NoPhones(), real.separations)
    stages = Stages()
    inputs = read_inputs(
        settings,
        stages,
        date(2019, 12, 31),
        today=date(2019, 12, 31),
        now=lambda: datetime(2020, 1, 1, tzinfo=UTC),
        sources=sources,
    )
    assert inputs.phones.phones.empty and not inputs.accounts.accounts.empty
    assert [t.name for t in stages.timings] == ["pull accounts", "pull phones", "read separations"]


def test_a_run_sends_through_the_transport_it_is_given(tmp_path: Path) -> None:
    settings = load_settings(orgfiles.write_org(tmp_path / "org"))
    transport = Recording()
    result = pipeline.run(settings, date.fromisoformat(orgfiles.AS_OF), transport=transport)
    assert result.status is RunStatus.OK and result.status == "ok"
    assert result.delivery is not None and len(transport.keys) == result.notices > 0
    # Nothing went to the configured outbox folder: the injected transport had the notices.
    assert not any(settings.mail.directory.glob("*.eml"))


class _Remote:
    """A remote feed that meets the other remote feeds at a barrier (or fails) when pulled."""

    remote = True

    def __init__(
        self,
        log: list[str],
        name: str,
        meet: threading.Barrier | None,
        fail: bool = False,
        after: threading.Event | None = None,
    ):
        self.log, self.name, self.meet, self.fail, self.after = log, name, meet, fail, after

    def pull(self) -> object:
        self.log.append(f"{self.name} started")
        if self.meet is not None:
            self.meet.wait()  # both remote pulls must be running at once to get past this
        if self.fail:
            if self.after is not None:
                self.after.set()
            raise SourceError(f"{self.name} is down")
        if self.after is not None:
            # Still busy well after the other pull failed: a night that gave up at once
            # would have returned before this line.
            self.after.wait(timeout=30)
            time.sleep(0.3)
        self.log.append(f"{self.name} done")
        return self.name


class _Local:
    remote = False

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def pull(self) -> object:
        self.log.append("separations read")
        return "separations"


def test_the_remote_pulls_run_at_the_same_time_after_the_local_ones() -> None:
    log: list[str] = []
    meet = threading.Barrier(2, timeout=30)
    feeds = Sources(_Remote(log, "graph", meet), _Remote(log, "cucm", meet), _Local(log))  # type: ignore[arg-type]
    stages = Stages()
    got = pull_local_first(feeds, stages.run)
    assert got == ("graph", "cucm", "separations")
    assert log[0] == "separations read"  # a bad HR file fails before any paging starts
    assert sorted(t.name for t in stages.timings) == [
        "pull accounts",
        "pull phones",
        "read separations",
    ]


def test_a_failing_remote_pull_fails_the_night_once_the_other_has_finished() -> None:
    log: list[str] = []
    failed = threading.Event()
    feeds = Sources(
        _Remote(log, "graph", None, after=failed),
        _Remote(log, "cucm", None, fail=True, after=failed),
        _Local(log),  # type: ignore[arg-type]
    )
    with pytest.raises(SourceError, match="cucm is down"):
        pull_local_first(feeds, Stages().run)
    assert "graph done" in log


def test_a_finance_report_that_fails_in_its_process_fails_the_night_and_commits_nothing(
    tmp_path: Path,
) -> None:
    config = orgfiles.write_org(tmp_path / "org")
    templates = tmp_path / "org" / "templates" / "reports"
    templates.mkdir(parents=True)
    (templates / "finance.html.j2").write_text("{{ nope.x }}", encoding="utf-8")
    text = config.read_text(encoding="utf-8")
    config.write_text(f'{text}\n[templates]\ndir = "templates"\n', encoding="utf-8")
    settings = load_settings(config)
    transport = Recording()
    with pytest.raises(ConfigError, match=r"reports/finance\.html\.j2"):
        pipeline.run(settings, date.fromisoformat(orgfiles.AS_OF), transport=transport)
    assert transport.keys == []
    with sqlite3.connect(tmp_path / "org" / "licensewatch.db") as con:
        tables = {name for (name,) in con.execute("select name from sqlite_master")}
        for table in ("runs", "findings", "outbox") if "runs" in tables else ():
            assert con.execute(f"select count(*) from {table}").fetchone() == (0,), table
    assert not settings.reports_dir.is_dir() or not any(
        p.name == orgfiles.AS_OF for p in settings.reports_dir.iterdir()
    )
    assert multiprocessing.active_children() == []


def test_the_accounts_table_is_dropped_once_reconciled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(orgfiles.write_org(tmp_path / "org"))
    tables: list[weakref.ref[pd.DataFrame]] = []
    alive_after: list[bool] = []
    real_reconcile, real_assess = steps.reconcile_inputs, steps.assess

    def reconcile(ctx: RunContext, inputs: Inputs) -> Gathered:
        tables.append(weakref.ref(inputs.accounts.accounts))
        assert len(inputs.accounts.accounts) > 0
        return real_reconcile(ctx, inputs)

    def assess(ctx: RunContext, gathered: Gathered) -> Assessed:
        gc.collect()
        alive_after.append(tables[0]() is not None)
        # What the rest of the night reads of the accounts pull is still there.
        assert gathered.accounts_pull.accounts.empty
        assert not gathered.accounts_pull.licenses.empty
        return real_assess(ctx, gathered)

    monkeypatch.setattr("licensewatch.night.run.reconcile_inputs", reconcile)
    monkeypatch.setattr("licensewatch.night.run.assess", assess)
    result = pipeline.run(settings, date.fromisoformat(orgfiles.AS_OF), transport=Recording())
    assert result.status is RunStatus.OK and result.counts["accounts_read"] > 0
    assert alive_after == [False]
