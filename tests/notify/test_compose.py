"""Department notices as a focal point receives them: parsed back from the .eml files."""

from __future__ import annotations

import csv
import io
import os
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from openpyxl import load_workbook

from licensewatch import forked, model
from licensewatch.config import MailSettings
from licensewatch.errors import ConfigError
from licensewatch.notify import compose as compose_module
from licensewatch.notify import parts
from licensewatch.notify.compose import ATTACHMENT_COLUMNS, header_text, notice_key
from tests.notify.org import (
    FINDINGS,
    FOCAL_POINTS,
    FORMULA_NAME,
    MAIL,
    RESEARCH,
    SCRIPT_NAME,
    compose,
    deliver,
    whole_text,
)
from tests.reports.costed import AS_OF, costed, finding

#: What identifies each department's rows; none may appear in another department's email.
OWN = {
    "Finance": ["bob@x.org", "SEP000000000002", "Bob desk", "license:b:e3", "phone:sep2"],
    "LEGAL": ["carol@x.org", "erin@x.org", "Erin Shah", "HYPERLINK", "license:c:e3"],
    RESEARCH: ["wang@x.org", "王小明", "license:w:e3"],
    "(queue)": ["hank@x.org", "Hank Hill", "frank@x.org", "Frank Bauer"],
}


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def attachment(msg: EmailMessage) -> tuple[str, list[dict[str, str]]]:
    """The CSV answer file: its name and rows (``;``-separated for French readers)."""
    parts = list(msg.iter_attachments())
    assert [p.get_content_type() for p in parts] == [XLSX, "text/csv"]
    text = parts[1].get_content()
    assert isinstance(text, str) and text.startswith("\ufeff")  # Excel reads it as UTF-8
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    rows = list(csv.DictReader(io.StringIO(text[1:]), delimiter=delimiter))
    return str(parts[1].get_filename()), rows


def workbook(msg: EmailMessage) -> tuple[str, bytes]:
    """The Excel answer file: its name and bytes."""
    part = next(p for p in msg.iter_attachments() if p.get_content_type() == XLSX)
    data = part.get_content()
    assert isinstance(data, bytes)
    return str(part.get_filename()), data


def body(msg: EmailMessage, kind: str) -> str:
    part = msg.get_body((kind,))
    assert part is not None
    text = part.get_content()
    assert isinstance(text, str)
    return text.replace("\r\n", "\n")  # the parts travel with CRLF line endings


def test_one_email_per_department_with_findings_and_a_focal_point(
    sent: dict[str, EmailMessage],
) -> None:
    assert sorted(sent) == ["Finance", "LEGAL", RESEARCH]
    finance, legal, research = sent["Finance"], sent["LEGAL"], sent[RESEARCH]
    assert str(finance["To"]) == "fp.finance@x.org" and finance["Cc"] is None
    assert str(legal["To"]) == "fp.legal@x.org, boss.legal@x.org"
    assert str(legal["Cc"]) == "legal.assistant@x.org"
    assert str(research["To"]) == "fp.rd@x.org"
    for msg in sent.values():
        assert str(msg["From"]) == "licensewatch@contoso.org"
        assert str(msg["Reply-To"]) == "ict-licensing@contoso.org"
        assert str(msg["Date"]) == "Tue, 31 Dec 2019 00:00:00 +0000"
        assert re.fullmatch(r"<[^<>@\s]+@contoso\.org>", str(msg["Message-ID"]))
        assert msg["Bcc"] is None


def test_notice_records_match_the_messages() -> None:
    notices, _ = compose()
    by_dept = {n.department: n for n in notices}
    assert by_dept["LEGAL"].language == "fr"
    assert set(by_dept["LEGAL"].resource_ids) == {"license:c:e3", "license:e:e3"}
    assert by_dept["Finance"].resource_ids == ("phone:sep2", "license:b:e3")
    assert by_dept["Finance"].to == ("fp.finance@x.org",)
    assert by_dept["LEGAL"].cc == ("legal.assistant@x.org",)
    for n in notices:
        assert n.key == notice_key(AS_OF, n.department, "notice", n.resource_ids)


def test_no_other_departments_rows_anywhere_in_a_message(sent: dict[str, EmailMessage]) -> None:
    for department, msg in sent.items():
        text = whole_text(msg)
        for other, markers in OWN.items():
            for marker in markers:
                if other == department:
                    assert marker in text, (department, marker)
                else:
                    assert marker not in text, (department, marker)


def test_mime_structure(sent: dict[str, EmailMessage]) -> None:
    for msg in sent.values():
        assert msg.get_content_type() == "multipart/mixed"
        alternative, xlsx_part, csv_part = list(msg.iter_parts())
        assert alternative.get_content_type() == "multipart/alternative"
        assert xlsx_part.get_content_type() == XLSX
        assert xlsx_part.get_content_disposition() == "attachment"
        assert [p.get_content_type() for p in alternative.iter_parts()] == [
            "text/plain",
            "text/html",
        ]
        assert csv_part.get_content_type() == "text/csv"
        assert csv_part.get_content_disposition() == "attachment"
        assert csv_part.get_content_charset() == "utf-8"
    assert attachment(sent["Finance"])[0] == "licensewatch_finance_2019-12-31.csv"
    assert attachment(sent["LEGAL"])[0] == "licensewatch_legal_2019-12-31.csv"
    assert workbook(sent["Finance"])[0] == "licensewatch_finance_2019-12-31.xlsx"


def test_utf8_subject_and_names_survive(sent: dict[str, EmailMessage], tmp_path: Path) -> None:
    assert str(sent["Finance"]["Subject"]) == (
        "[licensewatch] Finance: 1 dormant account and 1 phone"
        " — USD 419.60 a year avoidable — reply by 2020-01-14"
    )
    # LEGAL reads French. Its subject loses the space in "coût évitable" on the wire
    # (python/cpython#92081): see test_french.py::test_french_subjects_survive_the_wire.
    assert str(sent["LEGAL"]["Subject"]) == (
        "[licensewatch] LEGAL : 2 comptes inactifs — coût évitable de 189,60 USD par an — "
        "réponse au plus tard le 2020-01-14"
    )
    assert str(sent[RESEARCH]["Subject"]).startswith(
        f"[licensewatch] {RESEARCH}: 1 dormant account"
    )
    assert body(sent["Finance"], "plain").startswith("Dear Zoë Müller,")
    assert "Bonjour José Ñúñez," in body(sent["LEGAL"], "html")
    assert body(sent[RESEARCH], "plain").startswith("Dear 李雷,")
    assert "王小明" in body(sent[RESEARCH], "html")
    assert attachment(sent[RESEARCH])[1][0]["display_name"] == "王小明"
    # On the wire the headers are 7-bit (RFC 2047 encoded words).
    raw = next((tmp_path / "outbox").glob("*_legal_*.eml")).read_bytes()
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert headers.isascii() and b"=?utf-8?" in headers


def test_body_says_what_of_whom_by_when_and_why(sent: dict[str, EmailMessage]) -> None:
    text = body(sent["Finance"], "plain")
    lines = text.splitlines()
    assert lines[2].startswith("Why: the 1 dormant account and 1 phone of Finance")
    assert "USD 419.60 a year" in lines[2]
    # What is asked, by when and how come before the table.
    ask = text.index("What we ask, by 2020-01-14: for each line of the attached file")
    how = text.index("How to answer: open licensewatch_finance_2019-12-31.xlsx in Excel")
    none = text.index("Without an answer: we send you a reminder on 2020-01-10.")
    assert ask < how < none < text.index("bob@x.org")
    assert "at most one year ahead" in text and "licensewatch_finance_2019-12-31.csv" in text
    assert "Accrued avoidable cost:  USD 110.64" in text
    # One entry per person, highest annual cost first within the inactive.
    assert text.index("SEP000000000002") < text.index("bob@x.org")
    assert "bob@x.org — last sign-in 2019-06-01 — USD 189.60 a year" in text
    assert "   Microsoft 365 E3 licence (SPE_E3)\n" in text
    # The phone is flagged for its owner, not for itself: no "last activity" for it.
    assert "phone, Cisco 8845 (SEP000000000002) — owner inactive" in text
    assert (
        "IP_PHONE — IP desk phone with PC port: USD 230.00 a year,"
        " effective 2018-07-01 to 2020-06-30" in text
    )
    assert "M365_E3 — Microsoft 365 E3 licence: USD 189.60 a year, effective 2016-01-01\n" in text
    assert "UNUSED_ITEM" not in text  # the basis lists the items that priced this email
    legal = body(sent["LEGAL"], "plain")
    assert "carol@x.org — départ le 2019-11-30 — 189,60\u00a0USD par an" in legal
    # Separated staff first, even though Erin's licence is listed in the same email.
    assert legal.index("Ont quitté l'organisation") < legal.index("carol@x.org")
    assert legal.index("carol@x.org") < legal.index("erin@x.org")
    # An unpriced licence shows its product, never "0.00".
    assert "erin@x.org — compte désactivé — hors barème" in legal
    assert "   licence SPE_E3, hors barème\n" in legal and "0,00\u00a0USD par an" not in legal
    assert "Hors barème\u00a0: 1 ressource" in legal


def test_deadline_follows_response_days() -> None:
    notices, _ = compose(mail=MailSettings(sender="lw@contoso.org", response_days=3))
    by = {"en": "reply by 2020-01-03", "fr": "réponse au plus tard le 2020-01-03"}
    assert all(str(n.message["Subject"]).endswith(by[n.language]) for n in notices)
    assert all(n.message["Reply-To"] is None for n in notices)


def test_html_is_escaped_and_text_is_not(sent: dict[str, EmailMessage]) -> None:
    html = body(sent["Finance"], "html")
    assert "Bob &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html
    assert SCRIPT_NAME in body(sent["Finance"], "plain")


def test_attachment_rows_are_neutralized_and_ready_for_decisions(
    sent: dict[str, EmailMessage],
) -> None:
    _, rows = attachment(sent["LEGAL"])
    assert list(rows[0]) == list(ATTACHMENT_COLUMNS)
    by_subject = {r["subject"]: r for r in rows}
    assert by_subject["carol@x.org"]["display_name"] == "'" + FORMULA_NAME
    assert by_subject["carol@x.org"] == {
        "resource_id": "license:c:e3",
        "resource_kind": "license",
        "subject": "carol@x.org",
        "display_name": "'" + FORMULA_NAME,
        "reasons": "SEPARATED;INACTIVE",
        "dormant_since": "2019-06-01",
        "last_activity": "",
        "separation_date": "2019-11-30",
        "item": "M365_E3",
        "product": "SPE_E3",
        "annual_cost_usd": "189,60",
        "decision": "",
        "justification": "",
        "keep_until": "",
    }
    assert (
        by_subject["erin@x.org"]["item"] == ""
        and by_subject["erin@x.org"]["product"] == "SPE_E3"
        and by_subject["erin@x.org"]["annual_cost_usd"] == "0,00"  # LEGAL reads French
    )
    _, english = attachment(sent["Finance"])
    assert [r["annual_cost_usd"] for r in english] == ["230.00", "189.60"]


def test_header_injection_is_neutralised(tmp_path: Path) -> None:
    evil = "Ops\r\nBcc: attacker@evil.example"
    findings = costed(finding("license:o:e3", evil, "olga@x.org", name="Olga"))
    focal = model.conform(
        pd.DataFrame(
            {
                "department": [evil],
                "email": ["fp.ops@x.org"],
                "name": ["Eve\nBcc: spy@evil.example"],
            }
        ),
        model.FOCAL_POINTS,
    )
    notices, queue = compose(findings, focal)
    assert len(notices) == 1 and queue.empty
    msg = deliver(notices, tmp_path)[notices[0].department]
    assert msg["Bcc"] is None and not any(msg.get_all(h) for h in ("Bcc", "bcc"))
    assert str(msg["Subject"]).startswith(
        "[licensewatch] Ops Bcc: attacker@evil.example: 1 dormant"
    )
    assert set(msg.keys()) == {
        "Subject", "From", "To", "Reply-To", "Date", "Message-ID", "X-Licensewatch-Run",
        "X-Licensewatch-Key", "Auto-Submitted", "X-Auto-Response-Suppress", "MIME-Version",
        "Content-Type",
    }  # fmt: skip
    assert body(msg, "plain").startswith("Dear Eve Bcc: spy@evil.example,")
    assert header_text("a\r\nb\u2028c\x00d\te") == "a b c d e"
    # The second line of defence: EmailMessage itself refuses a raw line break.
    raw = notices[0].message
    with pytest.raises(ValueError, match="linefeed or carriage return"):
        raw["X-Test"] = "x\r\nBcc: attacker@evil.example"


def test_unassigned_queue_is_returned_and_not_mailed_by_default() -> None:
    notices, queue = compose()
    assert sorted(queue["subject"]) == ["frank@x.org", "hank@x.org"]
    assert list(queue.columns) == list(FINDINGS.columns)
    assert all(n.department != model.UNASSIGNED for n in notices)


def test_unassigned_queue_notice_when_configured(tmp_path: Path) -> None:
    mail = MailSettings(
        sender="lw@contoso.org", unassigned_to=("ict@contoso.org", "it2@contoso.org")
    )
    notices, queue = compose(mail=mail)
    assert len(queue) == 2
    sent = deliver(notices, tmp_path)
    msg = sent[model.UNASSIGNED]
    assert str(msg["To"]) == "ict@contoso.org, it2@contoso.org"
    assert str(msg["Subject"]).startswith("[licensewatch] (unassigned): 2 dormant accounts")
    assert body(msg, "plain").startswith("Hello,")
    assert "no department's focal point owns them" in body(msg, "plain")
    name, rows = attachment(msg)
    assert name == "licensewatch_unassigned_2019-12-31.csv"
    assert {(r["department"], r["subject"]) for r in rows} == {
        ("HR", "hank@x.org"),
        (model.UNASSIGNED, "frank@x.org"),
    }
    text = whole_text(msg)
    for markers in (OWN["Finance"], OWN["LEGAL"], OWN[RESEARCH]):
        assert not any(m in text for m in markers)
    notice = next(n for n in notices if n.department == model.UNASSIGNED)
    assert set(notice.resource_ids) == {"license:h:e3", "license:f:e3"}


def test_a_focal_point_for_unassigned_does_not_capture_the_queue() -> None:
    focal = pd.concat(
        [FOCAL_POINTS, model.conform(
            pd.DataFrame({"department": [model.UNASSIGNED], "email": ["x@x.org"]}),
            model.FOCAL_POINTS,
        )],
        ignore_index=True,
    )  # fmt: skip
    notices, queue = compose(FINDINGS, focal)
    assert model.UNASSIGNED not in {n.department for n in notices}
    assert "frank@x.org" in set(queue["subject"])


def test_large_department_lists_50_people_and_attaches_every_row(tmp_path: Path) -> None:
    rows = [
        finding(f"license:{i}:e3", "Finance", f"user{i:04d}@x.org", rate=10000 + i)
        for i in range(250)
    ]
    notices, _ = compose(costed(*rows))
    msg = deliver(notices, tmp_path)["Finance"]
    text = body(msg, "plain")
    assert "\n50. " in text and "\n51. " not in text
    more = "… and 200 more people in the attached licensewatch_finance_2019-12-31.xlsx"
    assert more in text and more in body(msg, "html")
    assert text.index("user0249@") < text.index("user0248@")  # highest annual cost first
    assert "user0199@" not in text
    _, attached = attachment(msg)
    assert len(attached) == 250 and attached[0]["subject"] == "user0249@x.org"
    assert len(load_workbook(io.BytesIO(workbook(msg)[1])).active["A"]) == 251


def people_listed(text: str) -> list[str]:
    return re.findall(r"^\d+\. \S+ — (\S+@x\.org)", text, flags=re.MULTILINE)


@pytest.mark.parametrize(
    ("separated", "inactive", "limit"), [(60, 30, 50), (10, 80, 50), (3, 3, 1)]
)
def test_the_limit_never_hides_a_separated_person(
    separated: int, inactive: int, limit: int, tmp_path: Path
) -> None:
    rows = [
        finding(f"license:s{i}:e3", "Finance", f"left{i:03d}@x.org", name=f"L{i}", rate=100 + i,
                reasons="SEPARATED", separation="2019-10-01")
        for i in range(separated)
    ] + [
        # The inactive cost more: the limit still keeps the separated ahead of them.
        finding(f"license:i{i}:e3", "Finance", f"idle{i:03d}@x.org", name=f"I{i}", rate=50000 + i)
        for i in range(inactive)
    ]  # fmt: skip
    mail = MailSettings(sender="lw@contoso.org", max_people_in_email=limit)
    msg = deliver(compose(costed(*rows), mail=mail)[0], tmp_path)["Finance"]
    text = body(msg, "plain")
    listed = people_listed(text)
    left = [p for p in listed if p.startswith("left")]
    idle = [p for p in listed if p.startswith("idle")]
    assert len(left) == separated
    assert len(idle) == max(limit - separated, 0)
    assert listed == left + idle  # the separated first
    hidden = separated + inactive - len(listed)
    assert f"… and {hidden} more people in the attached" in text
    assert len(attachment(msg)[1]) == separated + inactive


def test_only_the_people_an_email_shows_are_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A department of 300 people with a limit of 5 builds 5 entries, not 300 (issue 18)."""
    from licensewatch.notify import rows as notify_rows

    built: list[str] = []
    real = notify_rows._person

    def counting(group: Any, language: str) -> dict[str, Any]:
        entry = real(group, language)
        built.append(entry["upn"])
        return entry

    monkeypatch.setattr(notify_rows, "_person", counting)
    rows = [
        finding(f"license:i{i}:e3", "Finance", f"idle{i:03d}@x.org", name=f"I{i}", rate=100 + i)
        for i in range(300)
    ]
    mail = MailSettings(sender="lw@contoso.org", max_people_in_email=5)
    msg = deliver(compose(costed(*rows), mail=mail)[0], tmp_path)["Finance"]
    assert len(built) == 5 and people_listed(body(msg, "plain")) == built
    assert "… and 295 more people in the attached" in body(msg, "plain")


def test_keys_are_stable_filename_safe_and_distinct() -> None:
    assert notice_key(AS_OF, "Finance") == notice_key(AS_OF, " finance ")
    assert notice_key(AS_OF, "R&D") != notice_key(AS_OF, "R-D")
    assert notice_key(AS_OF, "研究部") != notice_key(AS_OF, "開発部")
    for dept in ("R&D", "研究部", "../etc/passwd", "Ops\r\nBcc: x"):
        key = notice_key(AS_OF, dept)
        assert re.fullmatch(r"2019-12-31_notice_[a-z0-9-]+_[0-9a-f]{12}", key)
    assert notice_key(AS_OF, "Zoë's Team").startswith("2019-12-31_notice_zoe-s-team_")
    # The key follows the content: kind and rows (in any order), not their order.
    ids = ["license:a:e3", "phone:sep1"]
    assert notice_key(AS_OF, "HR", "notice", ids) == notice_key(AS_OF, "hr", "notice", ids[::-1])
    assert notice_key(AS_OF, "HR", "notice", ids) != notice_key(AS_OF, "HR", "reminder", ids)
    assert notice_key(AS_OF, "HR", "notice", ids) != notice_key(AS_OF, "HR", "notice", ids[:1])


def test_template_override_and_language_variant(tmp_path: Path) -> None:
    folder = tmp_path / "templates" / "email"
    folder.mkdir(parents=True)
    (folder / "notice.fr.txt.j2").write_text(
        "Bonjour {{ greeting_name }}, réponse avant le {{ deadline }}.\n", encoding="utf-8"
    )
    notices, _ = compose(templates_dir=tmp_path / "templates")
    by_dept = {n.department: n.message for n in notices}
    assert body(by_dept["LEGAL"], "plain") == "Bonjour José Ñúñez, réponse avant le 2020-01-14.\n"
    assert body(by_dept["Finance"], "plain").startswith("Dear Zoë Müller,")
    # No French HTML in the override folder: the bundled French one is used.
    assert "Demande, au plus tard le 2020-01-14\u00a0:" in body(by_dept["LEGAL"], "html")


def test_bad_templates_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        compose(templates_dir=tmp_path / "missing")
    folder = tmp_path / "t" / "email"
    folder.mkdir(parents=True)
    (folder / "notice.txt.j2").write_text("{{ no_such_name }}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no_such_name"):
        compose(templates_dir=tmp_path / "t")


def test_no_findings_no_notices() -> None:
    notices, queue = compose(costed(), mail=MailSettings(unassigned_to=("ict@contoso.org",)))
    assert notices == [] and queue.empty


def test_mail_settings_fixture_is_used() -> None:
    assert MAIL.organization == "Contoso"
    notices, _ = compose()
    assert "cost Contoso USD" in body(notices[0].message, "plain")


def test_a_department_name_with_markup_is_escaped_in_every_part_of_the_html() -> None:
    evil = "R&D <b>Labs</b>"
    findings = FINDINGS.assign(department=FINDINGS["department"].replace("Finance", evil))
    focal = FOCAL_POINTS.assign(department=FOCAL_POINTS["department"].replace("Finance", evil))
    notices, _ = compose(findings, focal)
    notice = next(n for n in notices if n.department == evil)
    html = body(notice.message, "html")
    assert "<b>Labs</b>" not in html and "&lt;b&gt;Labs&lt;/b&gt;" in html


def test_data_in_the_people_table_is_escaped_once(tmp_path: Path) -> None:
    findings = costed(
        {**finding("license:m:e3", "Finance", "m@x.org", name="M & Co"),
         "item_description": "<b>Microsoft</b> 365"},
        {**finding("license:m:x", "Finance", "m@x.org", name="M & Co", item=None),
         "match_key": "<s>SKU</s>"},
        {**finding("phone:sep9", "Finance", "SEP<9>", kind="phone", account_id="m@x.org",
                   item="IP_PHONE", rate=23000, reasons="PHONE_OWNER_DORMANT"),
         "match_key": "<u>model</u>"},
    )  # fmt: skip
    phones = pd.DataFrame(
        {"device_name": ["SEP<9>"], "model": ["<u>model</u>"], "device_pool": ["<i>pool</i>"],
         "directory_number": ["<1>"]}
    )  # fmt: skip
    notices, _ = compose(findings, phones=phones)
    html = body(deliver(notices, tmp_path)["Finance"], "html")
    for raw in ("<b>", "<s>", "<u>", "<i>", "SEP<9>", "<1>", "M & Co"):
        assert raw not in html, raw
    phone = "ext. &lt;1&gt;, &lt;u&gt;model&lt;/u&gt;, &lt;i&gt;pool&lt;/i&gt; (SEP&lt;9&gt;)"
    for escaped in ("&lt;b&gt;Microsoft&lt;/b&gt; 365", "licence &lt;s&gt;SKU&lt;/s&gt;", phone,
                    "M &amp; Co"):  # fmt: skip
        assert escaped in html, escaped
    assert "&amp;lt;" not in html  # not escaped twice


def _parts(msg: EmailMessage) -> list[tuple[str, object]]:
    """Every header but the MIME boundaries, and every leaf part's type and decoded bytes."""
    out: list[tuple[str, object]] = [(k, v) for k, v in msg.items() if k != "Content-Type"]
    for part in msg.walk():
        if not part.is_multipart():
            out.append((part.get_content_type(), part.get_payload(decode=True)))
    return out


@pytest.mark.skipif(not forked.usable(), reason="needs fork and a second core")
def test_a_second_process_composes_the_same_emails(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []
    real_start = forked.start

    def start(name: str, work: Any, **kw: Any) -> forked.Child:
        started.append(name)
        return real_start(name, work, **kw)

    # The unassigned queue mailed too: this process composes it while the child works.
    mail = MailSettings(sender="lw@contoso.org", unassigned_to=("ict@contoso.org",))
    alone, queue_alone = compose(mail=mail, parallel=False)
    monkeypatch.setattr(parts, "PARALLEL_ROWS", 1)
    monkeypatch.setattr(forked, "start", start)
    together, queue_together = compose(mail=mail)
    assert started == ["compose emails"]
    assert together[-1].department == alone[-1].department == model.UNASSIGNED
    assert [(n.department, n.kind, n.key, n.to, n.cc, n.resource_ids) for n in together] == [
        (n.department, n.kind, n.key, n.to, n.cc, n.resource_ids) for n in alone
    ]
    assert [_parts(n.message) for n in together] == [_parts(n.message) for n in alone]
    pd.testing.assert_frame_equal(queue_together, queue_alone)
    # Both processes write their departments' emails' bytes, exactly what the outbox would
    # write later (the unassigned queue's is written by the outbox).
    departments = together[:-1]
    assert len(departments) > 1 and all(n.raw is not None for n in departments)
    assert all(n.raw == n.message.as_bytes() == n.as_bytes() for n in departments)
    assert together[-1].raw is None
    assert all(n.raw is None for n in alone)


@pytest.mark.skipif(not forked.usable(), reason="needs fork and a second core")
def test_the_first_departments_error_is_raised_when_both_halves_fail(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = compose_module._for_route
    failed = tmp_path / "failed"

    def failing(route: Any, *args: Any) -> Any:
        if route.label.casefold() in ("legal", "finance"):
            with failed.open("a", encoding="utf-8") as fh:
                fh.write(f"{route.label} {os.getpid()}\n")
            raise ConfigError(f"template broken for {route.label}")
        return real(route, *args)

    monkeypatch.setattr(parts, "PARALLEL_ROWS", 1)
    monkeypatch.setattr(compose_module, "_for_route", failing)
    with pytest.raises(ConfigError) as alone:
        compose(parallel=False)
    failed.unlink()
    with pytest.raises(ConfigError) as together:
        compose()
    # Finance is listed first by the rows: the first department, the child's.
    assert str(together.value) == str(alone.value) == "template broken for Finance"
    # Both failed, each in its own process: the child's (first) department wins.
    where = dict(line.split() for line in failed.read_text(encoding="utf-8").splitlines())
    assert sorted(where) == ["Finance", "LEGAL"] and where["LEGAL"] == str(os.getpid())
    assert where["Finance"] != str(os.getpid())
