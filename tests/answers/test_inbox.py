"""The answer loop end to end: replies in a real Dovecot, recorded once, answers queued."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from licensewatch import store
from licensewatch.answers.inbox import Loop, fetch_answers
from licensewatch.answers.mailbox.imap import ImapMailbox
from licensewatch.answers.mailbox.options import answers_options
from licensewatch.answers.signature import sign
from licensewatch.cli.parser import main
from licensewatch.config import load_settings
from licensewatch.sources.reference import read_focal_points
from tests import orgfiles
from tests.imapserver import LoopbackDovecot
from tests.smtporg import rows

KEY = b"answer-file-key-of-at-least-32-bytes!!"
TRUSTED = "mx.contoso.org"
PASS = f"{TRUSTED}; spf=pass smtp.mailfrom=contoso.org; dmarc=pass header.from=contoso.org"
NOTICE = "2019-12-31_notice_legal_0123456789ab"
NOW = datetime(2020, 1, 3, 8, 0, tzinfo=UTC)
HEADER = "resource_id,subject,decision,justification,keep_until,department,notice_key,mac\n"


@pytest.fixture
def org(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """The tiny organization after its first night: (config, subject → licence resource id)."""
    config = orgfiles.write_org(tmp_path / "org")
    assert main(["run", "--config", str(config), "--as-of", orgfiles.AS_OF]) == 0
    found = rows(
        config.parent / "licensewatch.db",
        "select subject, resource_id from resource_state where resource_kind = 'license'",
    )
    yield config, {subject: rid for subject, rid in found}


def answer_csv(lines: list[str], *, department: str = "Legal", signed_for: str = "Legal") -> bytes:
    mac = sign(KEY, signed_for, NOTICE)
    body = "".join(f"{line},{department},{NOTICE},{mac}\n" for line in lines)
    return (HEADER + body).encode("utf-8")


def reply(
    sender: str,
    number: int,
    attachment: bytes | None = None,
    *,
    results: str = PASS,
    name: str = "licensewatch_legal_2019-12-31.csv",
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "ict-licensing@contoso.org"
    message["Subject"] = "RE: Dormant accounts of Legal"
    message["Message-ID"] = f"<reply-{number}@contoso.org>"
    message["Authentication-Results"] = results
    message.set_content("Our answers are attached.")
    if attachment is not None:
        message.add_attachment(attachment, maintype="text", subtype="csv", filename=name)
    return message.as_bytes()


def read_all(config: Path, server: LoopbackDovecot, **patch: Any) -> Any:
    settings = load_settings(config)
    options = answers_options(
        {
            "kind": "imap",
            "trusted_authserv_id": TRUSTED,
            "signing_key_env": "LW_KEY",
            "imap": server.options(username="ict", password_env="LW_IMAP"),
        },
        config.parent,
    )
    assert options is not None and options.imap is not None
    engine = store.open_engine(settings.database_url)
    try:
        with ImapMailbox(options.imap, {"LW_IMAP": "imap-pw"}) as mailbox:
            for name, value in patch.items():
                setattr(mailbox, name, value)
            loop = Loop(
                options=options,
                mail=settings.mail,
                focal_points=read_focal_points(settings.focal_points),
                key=KEY,
                as_of=date(2020, 1, 3),
                run_id=None,
                clock=lambda: NOW,
                imported_by="licensewatch",
            )
            return fetch_answers(engine, mailbox, loop)
    finally:
        engine.dispose()


def answers(config: Path) -> list[EmailMessage]:
    found = rows(
        config.parent / "licensewatch.db",
        "select b.message from outbox o join outbox_bodies b on b.outbox_id = o.id "
        "where o.kind = 'confirmation' order by o.id",
    )
    return [
        email.message_from_bytes(bytes(m), policy=email.policy.default)  # type: ignore[misc]
        for (m,) in found
    ]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_a_focal_points_reply_is_recorded_confirmed_and_filed(
    org: tuple[Path, dict[str, str]], dovecot: LoopbackDovecot
) -> None:
    config, ids = org
    good = answer_csv(
        [
            f"{ids['dave@contoso.org']},,remove,,",
            f"{ids['carol@contoso.org']},,keep,on maternity leave,2020-06-30",
        ]
    )
    dovecot.append("ict", "INBOX", reply("José Ñúñez <FP.Legal@contoso.org>", 1, good))
    summary = read_all(config, dovecot)
    assert (summary.processed, summary.rejected, summary.decisions) == (1, 0, 2)
    decided = rows(
        config.parent / "licensewatch.db",
        "select resource_id, decision, decided_by, source, message_id, decided_at "
        "from decisions order by decision",
    )
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in decided] == [
        (ids["carol@contoso.org"], "keep", "fp.legal@contoso.org", "mail", "<reply-1@contoso.org>"),
        (
            ids["dave@contoso.org"],
            "remove",
            "fp.legal@contoso.org",
            "mail",
            "<reply-1@contoso.org>",
        ),
    ]
    assert dovecot.folder_messages("ict", "INBOX") == []
    assert len(dovecot.folder_messages("ict", "licensewatch.processed")) == 1
    [confirmation] = answers(config)
    assert confirmation["To"] == "fp.legal@contoso.org"
    assert confirmation["In-Reply-To"] == "<reply-1@contoso.org>"
    text = text_of(confirmation)
    assert "1 to remove, annual cost USD 189.60" in text
    assert f"{ids['carol@contoso.org']} until 2020-06-30" in text


@pytest.mark.parametrize(
    ("sender", "attachment", "results", "expected"),
    [
        # A focal point of Finance answering for Legal.
        ("fp.finance@contoso.org", "good", PASS, "may not answer for Legal"),
        # The department edited from Legal to Finance: the MAC no longer matches.
        ("fp.finance@contoso.org", "edited", PASS, "department or notice key was changed"),
        # Looks like the focal point, but came from outside.
        (
            "fp.legal@contoso.org",
            "good",
            "evil.example.net; dmarc=pass header.from=contoso.org",
            "could not be authenticated",
        ),
        ("fp.legal@contoso.org", None, PASS, "no answer file attached"),
        ("fp.legal@contoso.org", "bad row", PASS, "row 3, column decision"),
    ],
)
def test_what_does_not_count_is_rejected_answered_and_records_nothing(
    org: tuple[Path, dict[str, str]],
    dovecot: LoopbackDovecot,
    sender: str,
    attachment: str | None,
    results: str,
    expected: str,
) -> None:
    config, ids = org
    lines = [f"{ids['dave@contoso.org']},,remove,,"]
    files = {
        "good": answer_csv(lines),
        "edited": answer_csv(lines, department="Finance", signed_for="Legal"),
        "bad row": answer_csv([*lines, f"{ids['carol@contoso.org']},,delete it,,"]),
        None: None,
    }
    dovecot.append("ict", "INBOX", reply(sender, 7, files[attachment], results=results))
    summary = read_all(config, dovecot)
    assert (summary.processed, summary.rejected) == (0, 1)
    assert rows(config.parent / "licensewatch.db", "select count(*) from decisions") == [(0,)]
    assert len(dovecot.folder_messages("ict", "licensewatch.rejected")) == 1
    [confirmation] = answers(config)
    assert confirmation["To"] == sender
    flat = " ".join(text_of(confirmation).split())
    assert expected in flat, flat


def test_a_crash_between_the_commit_and_the_move_records_nothing_twice(
    org: tuple[Path, dict[str, str]], dovecot: LoopbackDovecot
) -> None:
    config, ids = org
    dovecot.append(
        "ict",
        "INBOX",
        reply("fp.legal@contoso.org", 1, answer_csv([f"{ids['dave@contoso.org']},,remove,,"])),
    )

    def killed(ref: str, folder: str) -> None:
        raise KeyboardInterrupt("killed after the commit, before the move")

    with pytest.raises(KeyboardInterrupt):
        read_all(config, dovecot, move=killed)
    assert len(dovecot.folder_messages("ict", "INBOX")) == 1
    summary = read_all(config, dovecot)
    assert (summary.processed, summary.moved_again) == (0, 1)
    assert rows(config.parent / "licensewatch.db", "select count(*) from decisions") == [(1,)]
    assert len(answers(config)) == 1
    assert dovecot.folder_messages("ict", "INBOX") == []
    assert len(dovecot.folder_messages("ict", "licensewatch.processed")) == 1


def test_the_same_file_sent_twice_is_recorded_once(
    org: tuple[Path, dict[str, str]], dovecot: LoopbackDovecot
) -> None:
    config, ids = org
    same = answer_csv([f"{ids['dave@contoso.org']},,remove,,"])
    dovecot.append("ict", "INBOX", reply("fp.legal@contoso.org", 1, same))
    dovecot.append("ict", "INBOX", reply("legal.assistant@contoso.org", 2, same))
    summary = read_all(config, dovecot)
    assert summary.processed == 2
    assert rows(config.parent / "licensewatch.db", "select count(*) from decisions") == [(1,)]
    first, second = answers(config)
    assert "Already recorded" not in text_of(first)
    assert "Already recorded earlier: nothing recorded again." in text_of(second)
    assert "recorded: 0 decisions" in text_of(second)
