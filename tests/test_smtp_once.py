"""Issue 13, "every message arrives once": the loopback SMTP server, SQLite and PostgreSQL.

Item 9: per-recipient outcomes; a refused focal point is retried alone and the
reminder clock waits for it. Item 10: a reply after ``timeout_s`` is an
``unknown`` outcome, resent only after the grace and never in the same run.
Item 12: a transient 4xx is retried within the run (no real sleep), and a run
exits 1 naming any message of an earlier run still undelivered.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from licensewatch.cli import cycle as cycle_commands
from licensewatch.cli.parser import main
from licensewatch.store.outbox import UNKNOWN_GRACE
from tests.orgfiles import AS_OF
from tests.smtporg import keys, rows, smtp_config, write_smtp_org
from tests.smtpserver import LoopbackSmtp
from tests.store.conftest import db_url, pg_server_url  # noqa: F401 - the fixtures

FOCAL_POINT = "fp.legal@contoso.org"
COPY = "legal.assistant@contoso.org"


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """No real sleep: the waits asked for, in order."""
    waits: list[float] = []
    monkeypatch.setattr("time.sleep", waits.append)
    return waits


@pytest.fixture
def server() -> Iterator[LoopbackSmtp]:
    with LoopbackSmtp() as running:
        yield running


def org_on(tmp_path: Path, server: LoopbackSmtp, url: str, timeout_s: float = 10) -> Path:
    config = (
        smtp_config(server.port)
        .replace('url = "sqlite:///licensewatch.db"', f'url = "{url}"')
        .replace("timeout_s = 10\n", f"timeout_s = {timeout_s}\n")
    )
    return write_smtp_org(tmp_path / "org", server, config=config)


def run(config: Path, as_of: str = AS_OF) -> int:
    return main(["run", "--config", str(config), "--as-of", as_of])


def legal(server: LoopbackSmtp) -> list[tuple[list[str], str]]:
    return [
        (m.rcpt_tos, str(m.message["Message-ID"]))
        for m in server.messages
        if "] Legal:" in str(m.message["Subject"])
    ]


def test_a_refused_focal_point_is_retried_alone_and_its_clock_waits(
    tmp_path: Path,
    server: LoopbackSmtp,
    db_url: str,  # noqa: F811 - fixture injection
    slept: list[float],
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.rcpt_replies[FOCAL_POINT] = "451 4.7.1 <fp.legal@contoso.org>: greylisted"
    org = org_on(tmp_path, server, db_url)
    assert run(org) == 1
    assert "Legal notice of 2019-12-31" in capsys.readouterr().err
    # The copy got it once; the focal point was asked again within the run, alone.
    assert [rcpts for rcpts, _ in legal(server)] == [[COPY]]
    assert server.rcpt_asked.count(FOCAL_POINT) == 4 and server.rcpt_asked.count(COPY) == 1
    assert slept == [5.0, 20.0, 60.0]
    [(status, delivered, error)] = rows(
        org, "select status, delivered_at, last_error from outbox where department = 'Legal'"
    )
    assert (status, delivered) == ("failed", None)
    assert "fp.legal@contoso.org (451 4.7.1" in str(error)

    # Fourteen days on (reminder_days), Finance is reminded; Legal's clock has not started.
    assert run(org, "2020-01-14") == 1
    kinds = rows(org, "select department, kind from outbox order by id")
    assert ("Finance", "reminder") in kinds and ("Legal", "reminder") not in kinds

    # The relay takes it two days after the first run: the focal point only, same Message-ID.
    del server.rcpt_replies[FOCAL_POINT]
    later = datetime.now(UTC) + timedelta(days=2)
    assert cycle_commands.outbox_send(org, clock=lambda: later) == 0
    first, again = legal(server)
    assert again == ([FOCAL_POINT], first[1])
    assert rows(org, "select status from outbox where department = 'Legal'") == [("sent",)]
    # The cycle counts from the day the focal point got it.
    notified = {
        str(d)[:10]
        for (d,) in rows(
            org, "select first_notified_on from resource_state where department = 'Legal'"
        )
    }
    assert notified == {(date(2019, 12, 31) + timedelta(days=2)).isoformat()}


def test_a_copy_refused_for_good_does_not_hold_a_delivered_notice(
    tmp_path: Path,
    server: LoopbackSmtp,
    db_url: str,  # noqa: F811 - fixture injection
    slept: list[float],
) -> None:
    server.refuse_recipients = {COPY}
    org = org_on(tmp_path, server, db_url)
    assert run(org) == 0  # 5xx for a copy is final; the focal point has it
    assert [rcpts for rcpts, _ in legal(server)] == [[FOCAL_POINT]]
    [(status, error)] = rows(
        org, "select status, last_error from outbox where department = 'Legal'"
    )
    assert status == "sent" and "legal.assistant@contoso.org (550 5.1.1" in str(error)
    assert slept == []


def test_a_reply_after_the_timeout_is_unknown_and_not_resent_within_the_grace(
    tmp_path: Path,
    db_url: str,  # noqa: F811 - fixture injection
    slept: list[float],
) -> None:
    with LoopbackSmtp(data_delay_s=1.5) as server:
        org = org_on(tmp_path, server, db_url, timeout_s=0.5)
        assert run(org) == 1
        assert len(server.messages) == 3  # the relay did take them
        statuses = rows(org, "select status from outbox")
        assert statuses == [("unknown",)] * 3
        server.data_delay_s = 0
        # The same day, and within the grace: nothing is sent again.
        assert run(org) == 1
        soon = datetime.now(UTC) + UNKNOWN_GRACE - timedelta(minutes=5)
        assert cycle_commands.outbox_send(org, clock=lambda: soon) == 1
        assert len(server.messages) == 3
        # After the grace: sent again, same Message-ID (the documented duplicate).
        later = datetime.now(UTC) + UNKNOWN_GRACE + timedelta(minutes=5)
        assert cycle_commands.outbox_send(org, clock=lambda: later) == 0
        assert sorted(keys(server).values()) == [2, 2, 2]
        ids = {str(m.message["Message-ID"]) for m in server.messages}
        assert len(ids) == 3
        assert slept == []  # an unknown outcome is never retried within the run


def test_451_once_then_accepted_is_delivered_in_the_same_run(
    tmp_path: Path,
    server: LoopbackSmtp,
    db_url: str,  # noqa: F811 - fixture injection
    slept: list[float],
) -> None:
    refusals = ["451 4.7.1 Greylisted, try again in 5 seconds"]

    def greylist(message: EmailMessage) -> bool:
        if "] Finance:" in str(message["Subject"]) and refusals:
            server.fail_data_reply = refusals.pop()
            return True
        return False

    server.fail_data_for = greylist
    org = org_on(tmp_path, server, db_url)
    assert run(org) == 0
    assert slept == [5.0]
    assert sorted(keys(server).values()) == [1, 1, 1]
    assert rows(org, "select status from outbox") == [("sent",)] * 3


def test_a_relay_busy_once_is_retried_in_the_run(
    tmp_path: Path,
    server: LoopbackSmtp,
    db_url: str,  # noqa: F811 - fixture injection
    slept: list[float],
) -> None:
    org = org_on(tmp_path, server, db_url)
    server.fail_next_connections = 1  # 421 at the greeting
    assert run(org) == 0
    assert slept == [5.0]
    assert sorted(keys(server).values()) == [1, 1, 1]


def test_a_message_stuck_from_an_earlier_run_makes_the_next_run_exit_1_naming_it(
    tmp_path: Path,
    server: LoopbackSmtp,
    db_url: str,  # noqa: F811 - fixture injection
    slept: list[float],
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.fail_data_for = lambda message: "] Finance:" in str(message["Subject"])
    org = org_on(tmp_path, server, db_url)
    assert run(org) == 1
    capsys.readouterr()
    assert run(org, "2020-01-01") == 1  # nothing new to send, the Finance notice still stuck
    err = capsys.readouterr().err
    assert "1 emails could not be sent yet: Finance notice of 2019-12-31" in err
    assert err.count("licensewatch: error:") == 1  # one line names them all
    assert slept == []  # 554 is permanent: no in-run retry
