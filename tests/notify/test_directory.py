"""DirectoryTransport: one .eml per key, atomic, idempotent."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from licensewatch.errors import DeliveryError
from licensewatch.notify.transports.base import Transport
from licensewatch.notify.transports.directory import DirectoryTransport


def message(subject: str) -> EmailMessage:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = subject
    msg["From"] = "lw@contoso.org"
    msg["To"] = "fp@contoso.org"
    msg.set_content("body\n")
    return msg


def test_writes_one_file_per_key_and_resending_overwrites(tmp_path: Path) -> None:
    folder = tmp_path / "outbox" / "nested"
    transport: Transport = DirectoryTransport(folder)
    transport.send(message("first"), key="2019-12-31_finance_abc")
    transport.send(message("other"), key="2019-12-31_legal_def")
    transport.send(message("second"), key="2019-12-31_finance_abc")
    transport.close()
    assert sorted(p.name for p in folder.iterdir()) == [
        "2019-12-31_finance_abc.eml",
        "2019-12-31_legal_def.eml",
    ]
    raw = (folder / "2019-12-31_finance_abc.eml").read_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "second"
    assert b"\r\n" in raw  # RFC 5322 line endings


@pytest.mark.parametrize("key", ["../escape", "a/b", "", ".hidden", "x y", "a\nb"])
def test_unsafe_keys_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="not a safe file name"):
        DirectoryTransport(tmp_path).send(message("x"), key=key)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_is_a_delivery_error(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("a file, not a folder", encoding="utf-8")
    with pytest.raises(DeliveryError, match="cannot write emails"):
        DirectoryTransport(blocker).send(message("x"), key="k")
