"""The whole loop on the demo: notice → a reply with the filled workbook → next night → deprovision.

No operator command in between: the focal point fills in the XLSX the notice
attached (20 removals, 5 keeps), replies, and the next night's run reads the
answers mailbox (a real Dovecot), records the decisions as the focal point's,
answers them, and ``deprovision`` lists the 20.
"""

from __future__ import annotations

import email
import email.policy
import io
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import openpyxl
import pytest

from licensewatch.cli.parser import main
from licensewatch.demo import generate
from tests.answers.test_inbox import KEY, TRUSTED
from tests.answers.test_run_reads_answers import with_answers
from tests.imapserver import LoopbackDovecot
from tests.smtporg import rows

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def night_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LW_ANSWERS_KEY", KEY.decode())
    monkeypatch.setenv("LW_IMAP_PW", "imap-pw")


def _notice(outbox: Path) -> EmailMessage:
    """The first department notice the night wrote (a focal point in To, a workbook attached)."""
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if "_notice_" in str(message["X-Licensewatch-Key"]) and any(
            p.get_content_type() == XLSX for p in message.iter_attachments()
        ):
            return message
    raise AssertionError(f"no notice with a workbook in {outbox}")


def _fill(workbook: bytes, removals: int, keeps: int) -> tuple[bytes, list[str], list[str]]:
    """The workbook with the first licence rows answered; (bytes, removed ids, kept ids)."""
    book = openpyxl.load_workbook(io.BytesIO(workbook))
    sheet = book.active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    col = {name: header.index(name) + 1 for name in header if isinstance(name, str)}
    removed: list[str] = []
    kept: list[str] = []
    for row in range(2, sheet.max_row + 1):
        if sheet.cell(row, col["resource_kind"]).value != "license":
            continue
        rid = str(sheet.cell(row, col["resource_id"]).value)
        if len(removed) < removals:
            sheet.cell(row, col["decision"]).value = "remove"
            removed.append(rid)
        elif len(kept) < keeps:
            sheet.cell(row, col["decision"]).value = "keep"
            sheet.cell(row, col["justification"]).value = "on mission until June"
            sheet.cell(row, col["keep_until"]).value = date(2020, 6, 30)
            kept.append(rid)
    assert (len(removed), len(kept)) == (removals, keeps), "the department has too few licences"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), removed, kept


@pytest.mark.usefixtures("night_env")
def test_a_reply_with_the_filled_workbook_reaches_deprovision_with_no_operator(
    tmp_path: Path, dovecot: LoopbackDovecot
) -> None:
    org = generate(tmp_path / "demo", accounts=1500, departments=3, as_of=date(2019, 12, 31))
    config = org.config_path
    with_answers(config, dovecot)
    assert main(["run", "--config", str(config), "--as-of", "2019-12-31"]) == 0
    notice = _notice(org.root / "outbox")
    focal_point = str(notice["To"]).split(",")[0].strip()
    workbook = next(p for p in notice.iter_attachments() if p.get_content_type() == XLSX)
    filled, removed, kept = _fill(workbook.get_content(), removals=20, keeps=5)

    reply = EmailMessage()
    reply["From"] = focal_point
    reply["To"] = "ict-licensing@demo.example.org"
    reply["Subject"] = "RE: " + str(notice["Subject"])
    reply["Message-ID"] = "<the-reply@demo.example.org>"
    reply["In-Reply-To"] = str(notice["Message-ID"])
    domain = focal_point.rsplit("@", 1)[1].rstrip(">")
    reply["Authentication-Results"] = f"{TRUSTED}; dmarc=pass header.from={domain}"
    reply.set_content("Done, see the attached file.")
    reply.add_attachment(
        filled, maintype="application", subtype=XLSX.split("/")[1], filename=workbook.get_filename()
    )
    later = datetime.now(UTC) + timedelta(minutes=1)
    dovecot.append("ict", "INBOX", reply.as_bytes(), received=later)

    assert main(["run", "--config", str(config), "--as-of", "2020-01-01"]) == 0
    decided = rows(config, "select resource_id, decision, decided_by, source from decisions")
    sender = focal_point.casefold()
    assert sorted(decided) == sorted(
        [(r, "remove", sender, "mail") for r in removed]
        + [(r, "keep", sender, "mail") for r in kept]
    )
    [(status, recipients)] = rows(
        config, "select status, recipients from outbox where kind = 'confirmation'"
    )
    assert (status, recipients) == ("sent", sender)
    assert len(dovecot.folder_messages("ict", "licensewatch.processed")) == 1

    listed = tmp_path / "deprovision.csv"
    assert main(["deprovision", "--config", str(config), "--out", str(listed)]) == 0
    text = listed.read_text(encoding="utf-8-sig")
    assert all(r in text for r in removed)
    assert not any(r in text for r in kept)
    assert len(text.strip().splitlines()) == 1 + len(removed)
