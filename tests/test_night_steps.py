"""The night's steps alone, and what ``run()`` lets a caller inject instead of patching."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from licensewatch import model
from licensewatch.config import load_settings
from licensewatch.night import run as pipeline
from licensewatch.night.context import RunOptions
from licensewatch.night.inputs import Sources, build_sources
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
