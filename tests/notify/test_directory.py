"""DirectoryTransport: one .eml per key, atomic, idempotent."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

import pytest

from licensewatch.errors import DeliveryError
from licensewatch.notify.delivery import queued
from licensewatch.notify.transports.base import Transport, parse_stored
from licensewatch.notify.transports.directory import DirectoryTransport
from tests.notify.org import compose


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


def test_a_stored_message_is_written_as_the_outbox_keeps_it(tmp_path: Path) -> None:
    # The outbox's bytes of a composed notice (attachments) with one long
    # header line: the file is those bytes, not a parse written out again
    # (which would fold that line).
    notices, _ = compose()
    stored = b"X-Probe: " + b"word " * 30 + b"\r\n" + queued(notices[0]).message
    assert parse_stored(stored).as_bytes() != stored  # what the shortcut avoids
    transport = DirectoryTransport(tmp_path)
    assert transport.send_stored(stored, key=notices[0].key, recipients=["x@contoso.org"]) == {}
    assert (tmp_path / f"{notices[0].key}.eml").read_bytes() == stored


class Recording(Transport):
    """A transport without its own send_stored: it gets the parsed message."""

    def __init__(self) -> None:
        self.got: list[tuple[EmailMessage, str, object]] = []

    def send(self, message: EmailMessage, *, key: str) -> None:
        raise AssertionError("send_to is overridden")

    def send_to(
        self, message: EmailMessage, *, key: str, recipients: Sequence[str] | None = None
    ) -> dict[str, str]:
        self.got.append((message, key, recipients))
        return {"b@contoso.org": "451 later"}


def test_a_transport_without_send_stored_gets_the_parsed_message() -> None:
    notices, _ = compose()
    stored = queued(notices[0]).message
    transport = Recording()
    refused = transport.send_stored(stored, key="k", recipients=["b@contoso.org"])
    assert refused == {"b@contoso.org": "451 later"}
    [(message, key, recipients)] = transport.got
    assert (key, recipients) == ("k", ["b@contoso.org"])
    assert message["Subject"] == notices[0].message["Subject"]
    assert message["Message-ID"] == notices[0].message["Message-ID"]
    assert len(list(message.iter_attachments())) == len(list(notices[0].message.iter_attachments()))
