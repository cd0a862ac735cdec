"""Parsing a reply strictly: sender, Message-ID, attachments, bounds, authentication."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from email.message import EmailMessage

import openpyxl
import pytest

from licensewatch.answers.mailbox import incoming
from licensewatch.answers.mailbox.authresults import exchange_internal, verdict
from licensewatch.answers.mailbox.incoming import from_bytes
from licensewatch.answers.workbook_guard import xlsx_problem

WHEN = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
TRUSTED = "mx.example.org"
DMARC_PASS = (
    f"{TRUSTED}; spf=pass smtp.mailfrom=example.org; dmarc=pass (p=reject) header.from=example.org"
)


def _reply(
    sender: str = "Ana Pérez <Ana.Perez@Example.org>", results: tuple[str, ...] = (DMARC_PASS,)
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "ict-licensing@example.org"
    message["Subject"] = "RE: Licences à retirer — Finance"
    message["Message-ID"] = "<reply-1@example.org>"
    for value in results:
        message["Authentication-Results"] = value
    message.set_content("Voilà nos réponses.")
    return message


def test_a_reply_gives_its_sender_case_folded_its_id_and_its_files() -> None:
    message = _reply()
    message.add_attachment(b"a;b\r\n", maintype="text", subtype="csv", filename="Finance.csv")
    found = from_bytes(message.as_bytes(), ref="7", received_at=WHEN, trusted_authserv_id=TRUSTED)
    assert (found.sender, found.message_id, found.problems) == (
        "ana.perez@example.org",
        "<reply-1@example.org>",
        (),
    )
    assert found.authentication.authenticated
    assert [(a.filename, a.data, a.is_answer_file) for a in found.attachments] == [
        ("Finance.csv", b"a;b\r\n", True)
    ]


def test_a_message_without_message_id_gets_one_from_its_bytes() -> None:
    message = _reply()
    del message["Message-ID"]
    raw = message.as_bytes()
    first = from_bytes(raw, ref="1", received_at=WHEN, trusted_authserv_id=TRUSTED)
    again = from_bytes(raw, ref="9", received_at=WHEN, trusted_authserv_id=TRUSTED)
    assert first.message_id == again.message_id
    assert first.message_id.endswith("@licensewatch.invalid>")


@pytest.mark.parametrize(
    ("sender", "problem"),
    [
        ("a@example.org, b@example.org", "exactly one address"),
        ("undisclosed", "exactly one address"),
    ],
)
def test_a_sender_that_is_not_one_address_is_a_problem(sender: str, problem: str) -> None:
    found = from_bytes(
        _reply(sender=sender).as_bytes(), ref="1", received_at=WHEN, trusted_authserv_id=TRUSTED
    )
    assert any(problem in p for p in found.problems)


def test_bytes_that_are_no_message_are_malformed_not_an_exception() -> None:
    found = from_bytes(
        b"\xff\xfe no headers", ref="3", received_at=WHEN, trusted_authserv_id=TRUSTED
    )
    assert found.problems and "malformed" in found.problems[0]
    assert not found.authentication.authenticated


def test_attachments_are_bounded_in_count_and_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(incoming, "MAX_ATTACHMENT_BYTES", 100)
    message = _reply()
    message.add_attachment(b"x" * 101, maintype="text", subtype="csv", filename="big.csv")
    for number in range(incoming.MAX_ATTACHMENTS):
        message.add_attachment(b"ok", maintype="text", subtype="csv", filename=f"f{number}.csv")
    found = from_bytes(message.as_bytes(), ref="1", received_at=WHEN, trusted_authserv_id=TRUSTED)
    assert found.attachments[0].problem.startswith("it is larger than")
    assert found.attachments[0].data == b""
    assert len(found.attachments) == incoming.MAX_ATTACHMENTS
    assert f"it has more than {incoming.MAX_ATTACHMENTS} attachments" in found.problems


def test_a_macro_enabled_workbook_is_refused_by_name_and_type() -> None:
    message = _reply()
    message.add_attachment(
        b"PK",
        maintype="application",
        subtype="vnd.ms-excel.sheet.macroEnabled.12",
        filename="Finance.xlsm",
    )
    found = from_bytes(message.as_bytes(), ref="1", received_at=WHEN, trusted_authserv_id=TRUSTED)
    assert "macro" in found.attachments[0].problem


@pytest.mark.parametrize(
    ("headers", "domain", "authenticated"),
    [
        ([DMARC_PASS], "example.org", True),
        ([f"{TRUSTED}; dmarc=fail header.from=example.org"], "example.org", False),
        # A header from outside claiming dmarc=pass under another authserv-id counts for nothing.
        (["evil.example.net; dmarc=pass header.from=example.org"], "example.org", False),
        # Only the topmost header of the trusted server is believed.
        ([f"{TRUSTED}; dmarc=fail header.from=example.org", DMARC_PASS], "example.org", False),
        (
            [f"{TRUSTED} 1; spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org"],
            "hq.example.org",
            True,
        ),
        (
            [f"{TRUSTED}; spf=pass smtp.mailfrom=example.org; dkim=pass header.d=other.org"],
            "example.org",
            False,
        ),
        ([f"{TRUSTED}; spf=pass smtp.mailfrom=example.org"], "example.org", False),
        ([f"{TRUSTED}; dmarc=pass header.from=other.org"], "example.org", False),
        ([], "example.org", False),
    ],
)
def test_authentication_results_of_the_trusted_server_only(
    headers: list[str], domain: str, authenticated: bool
) -> None:
    assert verdict(headers, domain, TRUSTED).authenticated is authenticated


def test_exchange_internal_marking() -> None:
    assert exchange_internal([("X-MS-Exchange-Organization-AuthAs", "Internal")]).authenticated
    assert not exchange_internal([("X-MS-Exchange-Organization-AuthAs", "Anonymous")]).authenticated
    assert not exchange_internal([]).authenticated


def _xlsx() -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["resource_id", "decision"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_plain_workbook_may_be_opened() -> None:
    assert xlsx_problem(_xlsx()) == ""


def test_a_zip_bomb_is_refused_unopened() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (60 * 2**20))
    assert "more than 50 MB" in xlsx_problem(out.getvalue())


def test_a_renamed_macro_workbook_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_xlsx())) as source, zipfile.ZipFile(out, "w") as archive:
        for item in source.infolist():
            archive.writestr(item, source.read(item))
        archive.writestr("xl/vbaProject.bin", b"VBA")
    assert "macros" in xlsx_problem(out.getvalue())


def test_bytes_that_are_no_zip_are_no_workbook() -> None:
    assert "not an Excel workbook" in xlsx_problem(b"resource_id,decision\n")
