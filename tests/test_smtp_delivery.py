"""Notices delivered through a real SMTP server on loopback: exactly once, to the right people.

The tiny organization (``tests/orgfiles.py``) has findings in Finance and
Legal (both with focal points) and one in the unassigned queue, so a first
run sends three messages.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from licensewatch.cli import cycle as cycle_commands
from licensewatch.cli.parser import main
from licensewatch.config import load_settings
from licensewatch.night import run as pipeline
from licensewatch.notify.transports import build_transport
from licensewatch.notify.transports.base import Transport
from tests.orgfiles import AS_OF
from tests.smtporg import (
    OWN,
    UNASSIGNED_TO,
    keys,
    parse,
    point_at,
    rows,
    smtp_config,
    whole_text,
    write_smtp_org,
)
from tests.smtpserver import LoopbackSmtp
from tests.store.conftest import fresh_schema, pg_server_url  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def server() -> Iterator[LoopbackSmtp]:
    with LoopbackSmtp() as running:
        yield running


@pytest.fixture
def org(tmp_path: Path, server: LoopbackSmtp) -> Path:
    return write_smtp_org(tmp_path / "org", server)


def run(config: Path, as_of: str = AS_OF) -> int:
    return main(["run", "--config", str(config), "--as-of", as_of])


def db(config: Path) -> Path:
    return config.parent / "licensewatch.db"


def by_department(server: LoopbackSmtp) -> dict[str, EmailMessage]:
    found = {}
    for received in server.messages:
        subject = str(received.message["Subject"])
        department = next(d for d in OWN if f"] {d}:" in subject)
        found[department] = parse(received.data)
    return found


def test_one_message_per_department_to_its_focal_points_only(
    org: Path, server: LoopbackSmtp
) -> None:
    assert run(org) == 0
    assert len(server.messages) == 3
    envelopes = {
        str(m.message["Subject"]).split(":")[0]: sorted(m.rcpt_tos) for m in server.messages
    }
    assert envelopes == {
        "[licensewatch] Finance": ["fp.finance@contoso.org"],
        "[licensewatch] Legal": ["fp.legal@contoso.org", "legal.assistant@contoso.org"],
        "[licensewatch] (unassigned)": [UNASSIGNED_TO],
    }
    for received in server.messages:
        assert received.mail_from == "licensewatch@contoso.org"
    # Isolation: no other department's subject anywhere, attachments included.
    for department, message in by_department(server).items():
        text = whole_text(message)
        for other, subjects in OWN.items():
            for subject in subjects:
                assert (subject in text) == (other == department), (department, subject)


def test_mime_structure_and_headers_as_received(org: Path, server: LoopbackSmtp) -> None:
    assert run(org) == 0
    legal = by_department(server)["Legal"]
    assert legal.get_content_type() == "multipart/mixed"
    alternative, workbook, attachment = legal.get_payload()  # type: ignore[misc]
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.get_payload()] == [
        "text/plain",
        "text/html",
    ]
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_filename() == f"licensewatch_legal_{AS_OF}.csv"
    assert workbook.get_filename() == f"licensewatch_legal_{AS_OF}.xlsx"
    assert workbook.get_content().startswith(b"PK\x03\x04")  # an .xlsx is a zip archive
    header = attachment.get_content().splitlines()[0]
    assert header.startswith("\ufeff")  # Excel opens a UTF-8 file right when it has a BOM
    assert header.endswith("decision,justification,keep_until")
    assert str(legal["Reply-To"]) == "ict-licensing@contoso.org"
    assert str(legal["To"]) == "fp.legal@contoso.org" and legal["Bcc"] is None
    assert str(legal["Message-ID"]).endswith("@contoso.org>") and legal["Date"] is not None
    assert "José Ñúñez" in legal.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_a_rerun_the_same_day_sends_nothing(org: Path, server: LoopbackSmtp) -> None:
    assert run(org) == 0
    assert run(org) == 0
    assert len(server.messages) == 3 and set(keys(server).values()) == {1}
    assert rows(db(org), "select status, count(*) from outbox group by status") == [("sent", 3)]


class SimulatedKill(BaseException):
    """What kill -9 looks like from inside: nothing after it runs, no handler catches it."""


class DieAfter(Transport):
    """The real transport, dying just before the send after the ``k``-th."""

    def __init__(self, real: Transport, k: int) -> None:
        self.real, self.k, self.sent = real, k, 0

    def send(self, message: EmailMessage, *, key: str) -> None:
        if self.sent == self.k:
            raise SimulatedKill
        self.real.send(message, key=key)
        self.sent += 1

    def close(self) -> None:
        self.real.close()


@pytest.mark.parametrize("k", [0, 1, 2])
def test_a_crash_after_k_of_n_then_a_rerun_delivers_each_once(
    org: Path, server: LoopbackSmtp, k: int
) -> None:
    settings = load_settings(org)
    dying = DieAfter(build_transport(settings), k)
    with pytest.raises(SimulatedKill):
        pipeline.run(settings, date.fromisoformat(AS_OF), transport=dying)
    assert len(server.messages) == k
    assert run(org) == 0
    assert len(server.messages) == 3 and set(keys(server).values()) == {1}
    assert rows(db(org), "select status, count(*) from outbox group by status") == [("sent", 3)]


KILL_9_AFTER = textwrap.dedent(
    """
    import os, signal, sys
    from licensewatch.notify.transports import smtp
    from licensewatch.cli.parser import main

    real, sent = smtp.SmtpTransport.send_to, []

    def send_then_die(self, message, *, key, recipients=None):
        refused = real(self, message, key=key, recipients=recipients)
        sent.append(key)
        if len(sent) == int(sys.argv[3]):
            os.kill(os.getpid(), signal.SIGKILL)
        return refused

    smtp.SmtpTransport.send_to = send_then_die
    sys.exit(main(["run", "--config", sys.argv[1], "--as-of", sys.argv[2]]))
    """
)


@pytest.mark.parametrize("k", [1, 2])
def test_kill_9_after_k_messages_then_rerun(org: Path, server: LoopbackSmtp, k: int) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", KILL_9_AFTER, str(org), AS_OF, str(k)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == -9, proc.stderr
    assert len(server.messages) == k
    # The k-th message was accepted by the server but the kill came before it was marked
    # sent: it is the one the next run may send again, with the same Message-ID.
    assert rows(db(org), "select count(*) from outbox where status = 'sent'") == [(k - 1,)]
    assert run(org) == 0
    ids = [str(m.message["Message-ID"]) for m in server.messages]
    assert set(keys(server)) == set(rows_keys(org))
    assert len(set(ids)) == 3  # three distinct messages, whatever was repeated kept its id
    assert len(server.messages) in (3, 4)


def rows_keys(config: Path) -> list[str]:
    return [str(key) for (key,) in rows(db(config), "select key from outbox")]


def test_a_refused_message_is_retried_later_and_does_not_stop_the_others(
    org: Path, server: LoopbackSmtp, capsys: pytest.CaptureFixture[str]
) -> None:
    server.fail_data_for = lambda message: "Finance" in str(message["Subject"])
    assert run(org) == 1  # recorded, but one email could not go: the operator hears of it
    assert "could not be sent yet" in capsys.readouterr().err
    assert len(server.messages) == 2
    assert rows(db(org), "select department, status, attempts from outbox order by id") == [
        ("Finance", "failed", 1),
        ("Legal", "sent", 1),
        ("(unassigned)", "sent", 1),
    ]
    assert main(["outbox", "--config", str(org), "--status", "failed"]) == 0
    listing = capsys.readouterr().out
    assert "1 failed" in listing and "Finance" in listing and "554" in listing

    # A re-run within the backoff neither retries nor queues anything new, but it
    # exits 1 naming the message still undelivered (issue 13, item 12).
    assert run(org) == 1
    assert "Finance notice of 2019-12-31" in capsys.readouterr().err
    assert len(server.messages) == 2

    server.fail_data_for = None
    later = datetime.now(UTC) + timedelta(hours=2)
    assert cycle_commands.outbox_send(org, clock=lambda: later) == 0
    assert len(server.messages) == 3 and set(keys(server).values()) == {1}
    assert rows(db(org), "select status, attempts from outbox where department = 'Finance'") == [
        ("sent", 2)
    ]


def test_server_down_then_back_loses_nothing(tmp_path: Path) -> None:
    with LoopbackSmtp() as first:
        config = write_smtp_org(tmp_path / "org", first)
    # The server is gone: its port is closed.
    assert run(config) == 1
    assert rows(db(config), "select status, count(*) from outbox group by status") == [
        ("failed", 1),
        ("pending", 2),
    ]
    with LoopbackSmtp() as back:
        point_at(config, back)
        later = datetime.now(UTC) + timedelta(hours=2)
        assert cycle_commands.outbox_send(config, clock=lambda: later) == 0
        assert len(back.messages) == 3 and set(keys(back).values()) == {1}


SMTP_PASSWORD = "Smtp-Pa55word-not-real"


def test_the_smtp_password_appears_in_no_output_file_or_log(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("LW_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    with LoopbackSmtp(auth={"licensewatch": SMTP_PASSWORD}) as server:
        config = smtp_config(server.port).replace(
            "timeout_s = 10\n",
            'timeout_s = 10\nusername = "licensewatch"\npassword_env = "LW_TEST_SMTP_PASSWORD"\n',
        )
        org = write_smtp_org(tmp_path / "org", server, config=config)
        assert run(org) == 0
        assert main(["outbox", "--config", str(org)]) == 0
        assert len(server.messages) == 3 and {m.login for m in server.messages} == {"licensewatch"}
    captured = capsys.readouterr()
    places = {"stdout": captured.out, "stderr": captured.err, "log": caplog.text}
    forms = [SMTP_PASSWORD, base64.b64encode(f"\0licensewatch\0{SMTP_PASSWORD}".encode()).decode()]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            places[str(path)] = path.read_bytes().decode("latin-1")
    assert [(where, form) for where, text in places.items() for form in forms if form in text] == []


UTF8_PASSWORD = "pässwörd-ü€"
#: ASCII, with characters that URL and JSON encoding change.
ASCII_PASSWORD = 'Smtp+Pa55/w&rd="x\\y'


def login_config(server: LoopbackSmtp) -> str:
    return smtp_config(server.port).replace(
        "timeout_s = 10\n",
        'timeout_s = 10\nusername = "licensewatch"\npassword_env = "LW_TEST_SMTP_PASSWORD"\n',
    )


def password_forms(password: str, user: str = "licensewatch") -> dict[str, str]:
    """``password`` as a relay, a log or a database could show it."""
    b64 = base64.b64encode
    return {
        "plain": password,
        "base64": b64(password.encode()).decode(),
        "AUTH PLAIN": b64(f"\0{user}\0{password}".encode()).decode(),
        "AUTH PLAIN with authzid": b64(f"{user}\0{user}\0{password}".encode()).decode(),
        "URL-encoded": quote(password, safe=""),
        "URL-encoded (plus)": quote_plus(password),
        "JSON-escaped": json.dumps(password)[1:-1],
    }


def test_a_utf8_smtp_password_logs_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: UnicodeEncodeError in smtplib on every run, the first message left "sending".
    monkeypatch.setenv("LW_TEST_SMTP_PASSWORD", UTF8_PASSWORD)
    with LoopbackSmtp(auth={"licensewatch": UTF8_PASSWORD}) as server:
        org = write_smtp_org(tmp_path / "org", server, config=login_config(server))
        assert run(org) == 0
        assert len(server.messages) == 3 and {m.login for m in server.messages} == {"licensewatch"}
    assert rows(db(org), "select status, count(*) from outbox group by status") == [("sent", 3)]
    captured = capsys.readouterr()
    leaks = [
        (name, where)
        for name, form in password_forms(UTF8_PASSWORD).items()
        for where, text in {"stdout": captured.out, "stderr": captured.err}.items()
        if form in text
    ]
    assert leaks == []


def test_a_login_failing_oddly_leaves_no_message_sending(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    database: str | None,
) -> None:
    # The relay's LOGIN challenge is not base64: smtplib raises binascii.Error (no OSError).
    monkeypatch.setenv("LW_TEST_SMTP_PASSWORD", UTF8_PASSWORD)
    with LoopbackSmtp(auth={"licensewatch": "another"}, bad_login_challenge=True) as server:
        config = on(login_config(server), database)
        org = write_smtp_org(tmp_path / "org", server, config=config)
        assert run(org) == 1
        assert server.messages == []
    err = capsys.readouterr().err
    assert "Traceback" not in err and "failed while connecting" in err
    table = db(org) if database is None else org
    assert rows(table, "select status, count(*) from outbox group by status order by 1") == [
        ("failed", 1),
        ("pending", 2),
    ]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for the org's SQLite file, else the URL of a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield None
        return
    with fresh_schema(request.getfixturevalue("pg_server_url"), "lw_smtp") as url:
        yield url


def on(config: str, url: str | None) -> str:
    sqlite = 'url = "sqlite:///licensewatch.db"'
    assert sqlite in config
    return config if url is None else config.replace(sqlite, f'url = "{url}"')


@pytest.mark.parametrize("password", [ASCII_PASSWORD, UTF8_PASSWORD])
def test_a_relay_echoing_the_auth_argument_leaks_the_password_nowhere(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    password: str,
    database: str | None,
) -> None:
    monkeypatch.setenv("LW_TEST_SMTP_PASSWORD", password)
    with LoopbackSmtp(auth={"licensewatch": "another"}, echo_auth=True) as server:
        config = on(login_config(server), database)
        org = write_smtp_org(tmp_path / "org", server, config=config)
        args = ["--config", str(org), "--log-format", "json"]
        assert main(["run", *args, "--as-of", AS_OF]) == 1
        assert main(["outbox", *args]) == 0
        later = datetime.now(UTC) + timedelta(hours=2)
        assert cycle_commands.outbox_send(org, clock=lambda: later) == 1
    captured = capsys.readouterr()
    # The relay did echo the AUTH argument, and the error says what the relay said.
    assert "535 5.7.8 Authentication failed for ***" in captured.err
    assert "last error: SMTP" in captured.out and "Authentication failed for ***" in captured.out
    table = db(org) if database is None else org
    last_errors = rows(table, "select last_error from outbox where last_error is not null")
    assert last_errors and all("Authentication failed for ***" in str(e) for (e,) in last_errors)
    places = {"stdout": captured.out, "stderr": captured.err}
    places["outbox.last_error"] = " ".join(str(e) for (e,) in last_errors)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            places[str(path)] = path.read_bytes().decode("utf-8", "replace")
    leaks = [
        (name, where)
        for name, form in password_forms(password).items()
        for where, text in places.items()
        if form in text
    ]
    assert leaks == []
