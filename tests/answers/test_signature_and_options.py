"""The answer file's MAC, and the [answers] table's checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from licensewatch import logs
from licensewatch.answers.mailbox.options import answers_options
from licensewatch.answers.signature import read_key, sign, verify
from licensewatch.errors import ConfigError

KEY = b"k" * 32
IMAP = {"host": "imap.example.org", "username": "ict", "password_env": "LW_IMAP_PW"}


def test_the_mac_binds_department_and_notice_key() -> None:
    mac = sign(KEY, "Finance", "notice-2026-12-01-finance")
    assert len(mac) == 43
    assert verify(KEY, "finance", "notice-2026-12-01-finance", mac)  # folded as routing folds
    assert not verify(KEY, "Legal", "notice-2026-12-01-finance", mac)
    assert not verify(KEY, "Finance", "notice-2026-11-01-finance", mac)
    assert not verify(b"x" * 32, "Finance", "notice-2026-12-01-finance", mac)
    assert not verify(KEY, "Finance", "notice-2026-12-01-finance", mac[:-1] + "A")


def test_the_key_is_read_from_the_environment_and_masked_in_logs() -> None:
    secret = "s3cr3t-answer-key-of-at-least-32-bytes"
    assert read_key("LW_KEY", {"LW_KEY": secret}) == secret.encode()
    assert secret not in logs.redact(f"key={secret}")
    with pytest.raises(ConfigError, match="not set"):
        read_key("LW_KEY", {})
    with pytest.raises(ConfigError, match="5 bytes"):
        read_key("LW_KEY", {"LW_KEY": "short"})


def _table(**overrides: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "kind": "imap",
        "trusted_authserv_id": "mx.example.org",
        "signing_key_env": "LW_ANSWERS_KEY",
        "imap": dict(IMAP),
    }
    table.update(overrides)
    return {k: v for k, v in table.items() if v is not None}


def test_a_complete_imap_table() -> None:
    options = answers_options(_table(), Path("."))
    assert options is not None and options.imap is not None
    assert (options.kind, options.imap.port, options.imap.security) == ("imap", 993, "tls")
    assert options.processed_folder == "licensewatch/processed"
    assert options.require_authenticated


def test_no_table_no_mailbox() -> None:
    assert answers_options(None, Path(".")) is None


def test_a_graph_table_needs_its_mailbox() -> None:
    options = answers_options(
        _table(kind="graph", imap=None, graph={"mailbox": "ict@example.org"}), Path(".")
    )
    assert options is not None and options.address == "ict@example.org"
    with pytest.raises(ConfigError, match=r"\[answers.graph\] needs mailbox"):
        answers_options(_table(kind="graph", imap=None, graph={}), Path("."))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": "pop3"}, "kind must be one of imap, graph"),
        ({"imap": None}, r"needs an \[answers.imap\] table"),
        ({"graph": {"mailbox": "a@b.org"}}, r"no use for \[answers.graph\]"),
        ({"signing_key_env": None}, "needs signing_key_env"),
        ({"signing_key": "abc"}, "secrets never live in the config"),
        ({"trusted_authserv_id": None}, "needs trusted_authserv_id"),
        ({"trusted_authserv_id": "mx example"}, "must be a host name"),
        ({"processed_folder": 'a"b'}, "processed_folder must be a folder path"),
        ({"rejected_folder": "/top"}, "rejected_folder must be a folder path"),
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"require_authenticated": "no"}, "require_authenticated must be"),
    ],
)
def test_mistakes_are_named(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        answers_options(_table(**overrides), Path("."))


def test_a_lab_may_go_without_authentication() -> None:
    options = answers_options(
        _table(trusted_authserv_id=None, require_authenticated=False), Path(".")
    )
    assert options is not None and not options.require_authenticated


def test_the_emails_replies_must_reach_the_answers_mailbox() -> None:
    from licensewatch.answers.mailbox.options import reply_to_problems

    options = answers_options(_table(address="ict-licensing@example.org"), Path("."))
    assert reply_to_problems(options, "ICT <ict-licensing@example.org>", "lw@example.org") == []
    [problem] = reply_to_problems(options, None, "lw@example.org")
    assert "from (reply_to is not set) is 'lw@example.org'" in problem
    [problem] = reply_to_problems(options, "other@example.org", "lw@example.org")
    assert "set [mail] reply_to = 'ict-licensing@example.org'" in problem
    no_address = answers_options(_table(), Path("."))
    assert "address is not set" in reply_to_problems(no_address, None, "lw@example.org")[0]
    assert reply_to_problems(None, None, "lw@example.org") == []
