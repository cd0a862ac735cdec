"""The IMAP answers mailbox against a real Dovecot on 127.0.0.1 (tests/imapserver.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from licensewatch import logs
from licensewatch.answers.mailbox import imap as imap_module
from licensewatch.answers.mailbox.imap import ImapMailbox, MailboxUnavailable
from licensewatch.answers.mailbox.imap_options import ImapOptions
from licensewatch.errors import ConfigError
from tests.imapserver import LoopbackDovecot

PASSWORD = 'pässwörd "quoted" \\ end'


def _message(number: int, size: int = 0) -> bytes:
    body = "x" * size
    return (
        f"From: Focal {number} <focal{number}@example.org>\r\n"
        f"Message-ID: <m{number}@example.org>\r\nSubject: answers {number}\r\n\r\n{body}hi\r\n"
    ).encode()


def _options(server: LoopbackDovecot, **overrides: object) -> ImapOptions:
    table = server.options(username="ict", password_env="PW", **overrides)
    return ImapOptions.from_table(table, Path("."))


@pytest.mark.parametrize("tls", ["none", "starttls", "tls"])
def test_reads_every_waiting_message_and_files_them_in_nested_folders(tls: str) -> None:
    with LoopbackDovecot(users={"ict": PASSWORD}, tls=tls) as server:
        for number in range(3):
            server.append("ict", "INBOX", _message(number))
        with ImapMailbox(_options(server), {"PW": PASSWORD}) as mailbox:
            waiting = list(mailbox.waiting())
            assert [w.raw for w in waiting] == [_message(n) for n in range(3)]
            assert all(w.received_at.utcoffset() is not None for w in waiting)
            mailbox.move(waiting[0].ref, "licensewatch/processed")
            mailbox.move(waiting[1].ref, "licensewatch/rejected")
            mailbox.move(waiting[2].ref, "licensewatch/processed")
        # Dovecot's Maildir uses "." between levels: the config's "/" was translated.
        assert server.folder_messages("ict", "INBOX") == []
        assert server.folder_messages("ict", "licensewatch.processed") == [
            _message(0),
            _message(2),
        ]
        assert server.folder_messages("ict", "licensewatch.rejected") == [_message(1)]


def test_a_message_above_the_bound_is_handed_over_without_its_bytes(
    dovecot: LoopbackDovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imap_module, "MAX_MESSAGE_BYTES", 2_000)
    dovecot.append("ict", "INBOX", _message(1, size=5_000))
    dovecot.append("ict", "INBOX", _message(2))
    with ImapMailbox(_options(dovecot), {"PW": "imap-pw"}) as mailbox:
        waiting = list(mailbox.waiting())
    assert [(w.raw is None, w.size > 2_000) for w in waiting] == [(True, True), (False, False)]


def test_a_wrong_password_is_one_error_that_never_shows_the_password(
    dovecot: LoopbackDovecot,
) -> None:
    with pytest.raises(MailboxUnavailable) as caught:
        ImapMailbox(_options(dovecot), {"PW": "wrong-secret-123"}).open()
    text = caught.value.one_line()
    assert "wrong-secret-123" not in logs.redact(text)
    assert "wrong-secret-123" not in text
    assert "username" in text and "$PW" in text


def test_an_untrusted_certificate_is_refused_with_the_ca_file_hint() -> None:
    with LoopbackDovecot(users={"ict": "pw"}, tls="tls") as server:
        options = ImapOptions.from_table(
            {"host": "127.0.0.1", "port": server.port, "username": "ict", "password_env": "PW"},
            Path("."),
        )
        with pytest.raises(MailboxUnavailable) as caught:
            ImapMailbox(options, {"PW": "pw"}).open()
        assert "ca_file" in caught.value.one_line()


def test_a_missing_folder_is_named(dovecot: LoopbackDovecot) -> None:
    with pytest.raises(MailboxUnavailable, match="'Answers'"):
        ImapMailbox(_options(dovecot, folder="Answers"), {"PW": "imap-pw"}).open()


def test_nothing_listens_is_unavailable() -> None:
    options = ImapOptions(
        host="127.0.0.1", port=9, security="none", username="u", password_env="PW"
    )
    with pytest.raises(MailboxUnavailable) as caught:
        ImapMailbox(options, {"PW": "x"}).open()
    assert "host, port and security" in caught.value.one_line()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"host": "imap.example.org", "username": "u", "password_env": "P", "password": "s"},
            "password is not allowed",
        ),
        (
            {"host": "imap.example.org", "username": "u", "password_env": "P", "security": "none"},
            "in clear",
        ),
        ({"host": "imap.example.org", "username": "u"}, "needs password_env"),
        (
            {"host": "imap.example.org", "username": "u", "password_env": "P", "colour": 1},
            "unknown key 'colour'",
        ),
        (
            {"host": "imap.example.org", "username": "u", "password_env": "hunter 2"},
            "must name an environment variable",
        ),
    ],
)
def test_options_are_checked_naming_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        ImapOptions.from_table(table, Path("."))
    assert "hunter" not in caught.value.one_line()


def test_an_unset_password_variable_is_a_config_error() -> None:
    options = ImapOptions(host="127.0.0.1", username="u", password_env="LW_IMAP_PW")
    with pytest.raises(ConfigError, match=r"\$LW_IMAP_PW, which is not set"):
        ImapMailbox(options, {})
