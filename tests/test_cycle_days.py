"""The notification cycle over simulated days, through a real SMTP server on loopback.

Day 0 first notices; day 14 reminders (the deadline is day 15); Legal answers
(keep, remove); day 28 overdue notices to the focal points and one digest to
the committee of what is still unanswered; the service desk removes a licence,
which the next pull shows: realized savings; a keep that expires comes back.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from licensewatch.cli.parser import main
from tests import orgfiles
from tests.smtporg import (
    ESCALATION_TO,
    UNASSIGNED_TO,
    drop_licence,
    parse,
    rows,
    smtp_config,
    whole_text,
)
from tests.smtpserver import LoopbackSmtp
from tests.store.conftest import fresh_schema, pg_server_url  # noqa: F401 - the fixture
from tests.test_cli import error_lines

DAY0, DAY13, DAY14, DAY28, DAY29 = (
    "2019-12-31",
    "2020-01-13",
    "2020-01-14",
    "2020-01-28",
    "2020-01-29",
)
LEGAL_ANSWERS = {
    "carol@contoso.org": ("keep", "Maternity leave, returns in June", "2020-06-30"),
    "dave@contoso.org": ("remove", "", ""),
    "erin@contoso.org": ("remove", "", ""),
    "SEP000000000003": ("remove", "", ""),
    "SEP000000000004": ("keep", "Shared phone of the legal library", "2020-01-28"),
}


@pytest.fixture
def server() -> Iterator[LoopbackSmtp]:
    with LoopbackSmtp() as running:
        yield running


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "sqlite":
        yield "sqlite:///licensewatch.db"
        return
    server_url = request.getfixturevalue("pg_server_url")
    with fresh_schema(server_url, "lw_cycle") as url:
        yield url


@pytest.fixture
def org(tmp_path: Path, server: LoopbackSmtp, database_url: str) -> Path:
    # The tiny org loses one of 8 licences on day 29: more than the default 10% feed drop.
    config = smtp_config(server.port).replace(
        "max_dormant_fraction = 0.9\n", "max_dormant_fraction = 0.9\nmax_feed_drop = 0.5\n"
    )
    config = config.replace('url = "sqlite:///licensewatch.db"', f'url = "{database_url}"')
    return orgfiles.write_org(tmp_path / "org", config=config)


def run(config: Path, as_of: str) -> int:
    return main(["run", "--config", str(config), "--as-of", as_of])


def since(server: LoopbackSmtp, start: int) -> list[EmailMessage]:
    return [parse(m.data) for m in server.messages[start:]]


def kind(message: EmailMessage) -> str:
    return str(message["X-Licensewatch-Key"]).split("_")[1]


def answered(notice: EmailMessage, answers: dict[str, tuple[str, str, str]], path: Path) -> Path:
    """The notice's CSV attachment as the focal point returns it, decisions filled in.

    Saved back as Excel does: with its byte-order mark and its separator (``;`` for French).
    """
    attachment = next(p for p in notice.iter_attachments() if p.get_content_type() == "text/csv")
    content = attachment.get_content()
    assert isinstance(content, str) and content.startswith("\ufeff")
    delimiter = ";" if "resource_id;" in content else ","
    table = list(csv.DictReader(io.StringIO(content[1:]), delimiter=delimiter))
    for row in table:
        if row["subject"] in answers:
            row["decision"], row["justification"], row["keep_until"] = answers[row["subject"]]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(table[0]), delimiter=delimiter)
    writer.writeheader()
    writer.writerows(table)
    path.write_text(out.getvalue(), encoding="utf-8-sig")
    return path


def summary(config: Path, as_of: str) -> dict[str, object]:
    text = (config.parent / "reports" / as_of / "run_summary.json").read_text(encoding="utf-8")
    loaded: dict[str, object] = json.loads(text)
    return loaded


def test_notice_reminder_answers_escalation_removal_and_a_keep_that_expires(
    org: Path, server: LoopbackSmtp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = org  # rows() reads the database the config names

    assert run(org, DAY0) == 0
    first = since(server, 0)
    assert sorted(kind(m) for m in first) == ["notice"] * 3
    legal_notice = next(m for m in first if "] Legal:" in str(m["Subject"]))

    assert run(org, DAY13) == 0
    assert len(server.messages) == 3  # nothing new, nothing due

    assert run(org, DAY14) == 0
    reminders = since(server, 3)
    assert sorted(kind(m) for m in reminders) == ["reminder"] * 3
    for message in reminders:
        assert str(message["Subject"]).startswith("[licensewatch] Reminder: ")
        assert f"we asked you on {DAY0}" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    # A file naming another department's finding is refused whole: nothing recorded.
    wrong = answered(legal_notice, {**LEGAL_ANSWERS}, tmp_path / "legal-wrong.csv")
    ((bobs,),) = rows(db, "select min(resource_id) from resource_state where subject like 'bob@%'")
    sep = ";" if "resource_id;" in wrong.read_text(encoding="utf-8-sig") else ","
    with wrong.open("a", encoding="utf-8") as fh:
        fh.write(sep.join([bobs, "license", "bob@contoso.org", "Bob", *[""] * 7, "remove", "", ""]))
        fh.write("\n")
    importing = ["decisions", "import", "--config", str(org), "--as-of", DAY14]
    assert main([*importing, str(wrong), "--department", "Legal"]) == 2
    assert error_lines(capsys.readouterr().err) == [
        f"licensewatch: error: {wrong}, row 7, column 'resource_id': resource_id {bobs!r} "
        "belongs to department Finance, not Legal (fix the file and run again; nothing was "
        "written)"
    ]
    assert rows(db, "select count(*) from decisions") == [(0,)]

    reply = answered(legal_notice, LEGAL_ANSWERS, tmp_path / "legal.csv")
    assert main([*importing, str(reply), "--department", "Legal"]) == 0
    assert "5 decisions recorded for Legal: 3 to remove" in capsys.readouterr().out

    assert run(org, DAY28) == 0
    day28 = since(server, 6)
    # The focal points get their own overdue notice; the committee one digest of all of them.
    assert sorted(kind(m) for m in day28) == ["digest", "overdue", "overdue"]
    digest = next(m for m in day28 if kind(m) == "digest")
    assert str(digest["To"]) == ESCALATION_TO and digest["Cc"] is None
    digest_text = digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Finance: " in digest_text and "(unassigned): " in digest_text
    assert "Legal" not in digest_text  # Legal answered every item
    (risk,) = list(digest.iter_attachments())
    assert risk.get_filename() == f"licensewatch_risk_{DAY28}.html"
    page = risk.get_content()
    # Self-contained: inline CSS, no stylesheet, script or image fetched from elsewhere.
    assert "<style" in page and re.search(r"(src|href)=[\"']?(https?:|//)", page) is None
    assert "<script" not in page
    overdue = [m for m in day28 if kind(m) == "overdue"]
    for message in overdue:
        assert str(message["Subject"]).startswith("[licensewatch] Overdue: ")
        assert ESCALATION_TO not in f"{message['To']} {message['Cc']}"
    finance = next(m for m in overdue if "Finance" in str(m["Subject"]))
    assert str(finance["To"]) == "fp.finance@contoso.org"
    assert "bob@contoso.org" in whole_text(finance)
    escalated = finance.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    flat = " ".join(escalated.split())
    assert f"we asked you on {DAY0} about the items below; the answer was due by 2020-01-15" in flat
    assert "reported today to the ICT steering committee" in flat
    assert "the ICT steering committee is told again on" in flat  # the next step
    assert "carol@contoso.org" not in whole_text(finance)
    queue = next(m for m in overdue if "(unassigned)" in str(m["Subject"]))
    assert str(queue["To"]) == UNASSIGNED_TO
    statuses = dict(
        rows(db, "select subject, status from resource_state where department = 'Legal'")
    )
    assert statuses["carol@contoso.org"] == "kept" and statuses["SEP000000000004"] == "kept"

    listing = tmp_path / "deprovision.csv"
    assert main(["deprovision", "--config", str(org), "--out", str(listing)]) == 0
    approved = list(csv.DictReader(listing.open(encoding="utf-8")))
    assert sorted(r["subject"] for r in approved) == [
        "SEP000000000003",
        "dave@contoso.org",
        "erin@contoso.org",
    ]
    assert "2 licences, 1 phones, USD 609.20 a year" in capsys.readouterr().out

    # The service desk removes Dave's licence; the next pull no longer has it.
    drop_licence(org, "dave@contoso.org")
    assert run(org, DAY29) == 0
    day29 = summary(org, DAY29)
    assert day29["removed_resources"] == 1
    assert day29["realized_savings_annual_usd"] == "189.60"
    assert rows(db, "select status from resource_state where subject = 'dave@contoso.org'") == [
        ("removed",)
    ]
    # The phone kept until day 28 is back on the list: a new first notice to Legal alone.
    day29_mail = since(server, 9)
    assert [kind(m) for m in day29_mail] == ["notice"]
    assert "] Legal:" in str(day29_mail[0]["Subject"])
    text = whole_text(day29_mail[0])
    # Carol's kept licence stays out; she is named as the phone's owner only.
    assert "SEP000000000004" in text and "Microsoft 365" not in text
    assert "carol@contoso.org — never signed in — USD 230.00 a year" in text
    csv_part = next(p for p in day29_mail[0].iter_attachments() if p.get_filename().endswith("csv"))
    attached = csv_part.get_content().lstrip("\ufeff")
    assert [line.split(",")[2] for line in attached.splitlines()[1:]] == ["SEP000000000004"]
