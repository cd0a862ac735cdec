"""French notices: LEGAL's focal point reads French, everyone else stays in English."""

from __future__ import annotations

import email
import email.header
import email.policy
import random
import re
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

import pandas as pd
import pytest

from licensewatch import resources
from licensewatch.answers.answer_file import WORDS
from licensewatch.config import MailSettings
from licensewatch.notify.compose import DepartmentNotice, environment
from licensewatch.notify.mime import POLICY
from tests.notify.org import FINDINGS, FOCAL_POINTS, RESEARCH, compose, deliver
from tests.notify.test_compose import attachment, body
from tests.reports.costed import costed, finding

NBSP = "\u00a0"  # before ":" and "USD"
NNBSP = "\u202f"  # before ";" and between thousands
#: Phrases of the English templates; none may appear in a French message.
ENGLISH = (
    "What we ask", "Why:", "Dear ", "Hello", "Reminder", "Escalation", "a year", "avoidable",
    "reply by", "Reply to this email", "Last activity", "Separation date", "rate card",
    "Rate card", "How to answer", "Rows without a decision", "This message was sent",
    "asked on", "Asked on", "never", "(no name)", "listed below", "In total", "Annual cost",
    "Licences:", "Phones", "Unanswered", "more in the attached", 'lang="en"',
    "Without an answer", "left on", "last sign-in", "owner inactive", "owner left", "not priced",
    "Never signed in", "Inactive", "more people", "Left the organization", "Licences and phone",
    ">Person<", "ext.", "not connected", "USD a year",
)  # fmt: skip
#: English money ("USD 189.60", "4,115.20"); French writes "189,60 USD".
ENGLISH_MONEY = re.compile(r"USD \d|\d,\d{3}\.|\d\.\d\d\b")


def cycled(findings: pd.DataFrame, asked: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """``findings`` with a ``cycle`` and ``first_notified_on``: resource_id → (cycle, date)."""
    ids = findings["resource_id"].tolist()
    return findings.assign(
        cycle=[asked.get(i, ("new", ""))[0] for i in ids],
        first_notified_on=pd.to_datetime([asked.get(i, ("new", ""))[1] for i in ids], utc=True),
    )


def subject(notices: Sequence[DepartmentNotice], department: str, kind: str = "notice") -> str:
    """A message's Subject as composed, before the wire (see test_french_subjects_survive_the_wire).

    The header is one line: compose flattens the template's no-break spaces to ordinary ones.
    """
    (notice,) = [n for n in notices if n.department == department and n.kind == kind]
    return str(notice.message["Subject"])


def french(msg: EmailMessage) -> list[str]:
    """The subject and both bodies of a message that should be all French."""
    return [str(msg["Subject"]), body(msg, "plain"), body(msg, "html")]


def assert_no_english(msg: EmailMessage) -> None:
    for text in french(msg):
        for phrase in ENGLISH:
            assert phrase not in text, phrase
        assert not ENGLISH_MONEY.search(text), ENGLISH_MONEY.search(text)
    plain = body(msg, "plain")
    # French typography: a no-break space before ":" and ";", never an ordinary one.
    assert " :" not in plain and " ;" not in plain


def test_legal_notice_is_in_french(sent: dict[str, EmailMessage]) -> None:
    assert subject(compose()[0], "LEGAL") == (
        "[licensewatch] LEGAL : 2 comptes inactifs"
        " — coût évitable de 189,60 USD par an — réponse au plus tard le 2020-01-14"
    )
    legal = sent["LEGAL"]
    text = body(legal, "plain")
    lines = text.splitlines()
    # Why and what it costs, then what is asked, by when and how, before the table.
    assert lines[0] == "Bonjour José Ñúñez,"
    assert lines[2].startswith(
        f"Motif{NBSP}: les 2 comptes inactifs du département LEGAL figurant ci-dessous"
    )
    assert f"coût évitable de 189,60{NBSP}USD par an" in lines[2]
    assert lines[4].startswith(f"Demande, au plus tard le 2020-01-14{NBSP}: pour chaque ligne")
    assert "un an au plus" in lines[4]
    assert lines[6].startswith(
        f"Comment répondre{NBSP}: ouvrez licensewatch_legal_2019-12-31.xlsx dans Excel"
    )
    assert "licensewatch_legal_2019-12-31.csv contient les mêmes lignes" in lines[6]
    assert lines[8] == (
        f"Sans réponse{NBSP}: nous vous enverrons un rappel le 2020-01-10."
        " Les lignes laissées sans décision restent sur la liste."
    )
    assert f"Coût évitable cumulé{NBSP}:       0,00{NBSP}USD" in text
    assert f"carol@x.org — départ le 2019-11-30 — 189,60{NBSP}USD par an" in text
    assert "Comptes désactivés, toujours sous licence" in text
    assert "erin@x.org — compte désactivé — hors barème\n   licence SPE_E3, hors barème" in text
    assert (
        f"M365_E3 — Microsoft 365 E3 licence{NBSP}: 189,60{NBSP}USD par an,"
        " en vigueur depuis le 2016-01-01\n" in text
    )
    assert f"Hors barème{NBSP}: 1 ressource indiquée avec son produit et sans coût" in text
    assert "choisissez remove ou keep dans la colonne decision" in text
    assert f"remove (supprimer{NNBSP}; nous retirons" in text
    assert text.rstrip().endswith("Ce message a été envoyé par licensewatch pour Contoso.")
    # Highest annual cost first: Carol's priced licence before Erin's unpriced one.
    assert text.index("carol@x.org") < text.index("erin@x.org")


def test_legal_html_is_french_and_escaped(sent: dict[str, EmailMessage]) -> None:
    html = body(sent["LEGAL"], "html")
    assert '<html lang="fr">' in html
    assert "<p>Bonjour José Ñúñez,</p>" in html
    assert f"<strong>Demande, au plus tard le 2020-01-14{NBSP}:</strong> pour chaque" in html
    assert f"<strong>Motif{NBSP}:</strong> les 2 comptes inactifs" in html
    assert f"coût évitable de 189,60{NBSP}USD par an" in html
    assert '<th style="padding: 6px;">Personne</th>' in html and ">USD par an</th>" in html
    assert "départ le 2019-11-30" in html and ">hors barème</span>" in html
    # Data is escaped, the template's own apostrophes are not (the macros' text is escaped whole).
    assert "Ont quitté l&#39;organisation" in html
    assert "=HYPERLINK(&#34;http://evil.example/" in html
    assert "<strong>remove</strong> (supprimer" in html


def test_french_words_in_the_instructions_are_read_by_the_importer(
    sent: dict[str, EmailMessage],
) -> None:
    text = body(sent["LEGAL"], "plain")
    for word in ("remove", "keep", "supprimer", "conserver"):
        assert word in WORDS and word in text
    _, rows = attachment(sent["LEGAL"])
    assert {"decision", "justification", "keep_until"} <= set(rows[0])


def test_no_english_in_the_french_notice(sent: dict[str, EmailMessage]) -> None:
    assert_no_english(sent["LEGAL"])


def test_english_departments_stay_english(sent: dict[str, EmailMessage]) -> None:
    for department in ("Finance", RESEARCH):
        msg = sent[department]
        assert "a year avoidable — reply by 2020-01-14" in str(msg["Subject"])
        assert body(msg, "plain").startswith("Dear ")
        assert "What we ask, by 2020-01-14: for each line" in body(msg, "plain")
        assert '<html lang="en">' in body(msg, "html")
        for text in french(msg):
            assert "Bonjour" not in text and "Demande" not in text and "barème" not in text
    assert "USD 419.60 a year" in body(sent["Finance"], "plain")


def test_french_money_has_grouped_thousands(tmp_path: Path) -> None:
    findings = costed(
        finding("license:c:e3", "Legal", "carol@x.org", rate=411520, accrued=123456),
        finding("license:e:e3", "Legal", "erin@x.org", rate=18960),
    )
    notices, _ = compose(findings)
    msg = deliver(notices, tmp_path)["LEGAL"]
    text, html = body(msg, "plain"), body(msg, "html")
    for part in (text, html):
        assert f"coût évitable de 4{NNBSP}304,80{NBSP}USD par an" in part
        assert f"4{NNBSP}115,20" in part and f"1{NNBSP}234,56{NBSP}USD" in part
    assert "coût évitable de 4 304,80 USD par an" in subject(notices, "LEGAL")
    assert_no_english(msg)


@pytest.mark.parametrize(
    ("accounts", "phones", "bare", "the", "of_the"),
    [
        (1, 0, "1 compte inactif", "le compte inactif", "du compte inactif"),
        (2, 0, "2 comptes inactifs", "les 2 comptes inactifs", "des 2 comptes inactifs"),
        (0, 1, "1 téléphone inactif", "le téléphone inactif", "du téléphone inactif"),
        (0, 2, "2 téléphones inactifs", "les 2 téléphones inactifs", "des 2 téléphones inactifs"),
        (1, 1, "1 compte inactif et 1 téléphone", "le compte inactif et le téléphone",
         "du compte inactif et du téléphone"),
        (3, 2, "3 comptes inactifs et 2 téléphones", "les 3 comptes inactifs et les 2 téléphones",
         "des 3 comptes inactifs et des 2 téléphones"),
    ],
)  # fmt: skip
def test_plural_and_article_agreement(
    accounts: int, phones: int, bare: str, the: str, of_the: str
) -> None:
    macros = environment().get_template("email/macros.fr.j2").module
    assert str(macros.counts(accounts, phones)) == bare  # type: ignore[attr-defined]
    assert str(macros.the_counts(accounts, phones)) == the  # type: ignore[attr-defined]
    assert str(macros.the_counts(accounts, phones, de=True)) == of_the  # type: ignore[attr-defined]


def test_one_account_and_one_phone_read_in_the_singular(tmp_path: Path) -> None:
    focal = FOCAL_POINTS.assign(language=["fr", "fr", "en", "en"])
    notices, _ = compose(focal_points=focal)
    msg = deliver(notices, tmp_path)["Finance"]
    assert subject(notices, "Finance").startswith(
        "[licensewatch] Finance : 1 compte inactif et 1 téléphone — coût évitable de 419,60 USD"
    )
    text = body(msg, "plain")
    assert "Motif\u00a0: le compte inactif et le téléphone du département Finance" in text
    assert f"Licences{NBSP}:                   1 (sur 1 compte)" in text
    assert "<td>sur 1 compte</td>" in body(msg, "html")
    assert f"IP_PHONE — IP desk phone with PC port{NBSP}: 230,00{NBSP}USD par an," in text
    assert "en vigueur du 2018-07-01 au 2020-06-30" in text
    assert_no_english(msg)


def test_reminder_is_in_french(tmp_path: Path) -> None:
    findings = cycled(
        FINDINGS,
        {"license:c:e3": ("reminder", "2019-12-17"), "license:e:e3": ("reminder", "2019-12-17")},
    )
    notices, _ = compose(findings)
    (notice,) = [n for n in notices if n.department == "LEGAL"]
    assert notice.kind == "reminder"
    msg = deliver([notice], tmp_path)["LEGAL"]
    assert subject(notices, "LEGAL", "reminder").startswith(
        "[licensewatch] Rappel — LEGAL : 2 comptes inactifs — coût évitable de 189,60 USD par an"
    )
    text = body(msg, "plain")
    assert text.startswith("Bonjour José Ñúñez,")
    assert f"Rappel{NBSP}: nous vous avons écrit le 2019-12-17" in text
    # The cycle's next step and its date: overdue the day after the deadline, then the committee.
    assert f"Sans réponse{NBSP}: les éléments seront en retard à compter du 2020-01-01" in text
    assert "le 2020-01-14 seront signalés ce jour-là au comité de pilotage des TIC" in text
    # Both were asked the same day: the date is said once, not on every person.
    assert "— demandé le" not in text
    html = body(msg, "html")
    assert f"<strong>Rappel{NBSP}:</strong> nous vous avons écrit le 2019-12-17" in html
    assert ">demandé le 2019-12-17</span>" not in html
    assert attachment(msg)[0] == "licensewatch_legal_reminder_2019-12-31.csv"
    assert_no_english(msg)


def test_new_and_waiting_rows_are_counted_in_french(tmp_path: Path) -> None:
    # One message a day: a reminder that also lists what is new (not a plain notice).
    findings = cycled(FINDINGS, {"license:e:e3": ("reminder", "2019-12-17")})
    notices, _ = compose(findings)
    assert [n.kind for n in notices if n.department == "LEGAL"] == ["reminder"]
    msg = deliver(notices, tmp_path)["LEGAL"]
    expected = "n'avons pas encore reçu de réponse. 1 élément est nouveau."
    assert expected in body(msg, "plain")
    html = body(msg, "html")
    assert expected in html
    assert ">nouveau</span>" in html and ">demandé le 2019-12-17</span>" in html
    assert_no_english(msg)


def test_escalation_is_in_french_when_mail_language_is_french(tmp_path: Path) -> None:
    findings = cycled(
        FINDINGS,
        {"license:b:e3": ("escalation", "2019-12-03"), "phone:sep2": ("escalation", "2019-12-03")},
    )
    mail = MailSettings(
        sender="lw@contoso.org",
        organization="Contoso",
        escalation_to=("ict-sc@contoso.org",),
        language="fr",
    )
    notices, _ = compose(findings, mail=mail)
    # Finance's focal point reads English (its overdue notice); the secretariat reads French.
    (overdue,) = [n for n in notices if n.kind == "overdue"]
    assert (overdue.department, overdue.language, overdue.to) == (
        "Finance",
        "en",
        ("fp.finance@x.org",) if overdue.to == ("fp.finance@x.org",) else overdue.to,
    )
    assert "ict-sc@contoso.org" not in (*overdue.to, *overdue.cc)
    (notice,) = [n for n in notices if n.kind == "digest"]
    assert (notice.language, notice.to, notice.cc) == ("fr", ("ict-sc@contoso.org",), ())
    msg = deliver([notice], tmp_path)[notice.department]
    assert str(msg["Subject"]).startswith(
        "[licensewatch] Synthèse pour le comité de pilotage des TIC au 2019-12-31"
    )
    text = body(msg, "plain")
    assert text.startswith("Madame, Monsieur,\n")
    assert f"Finance{NBSP}: 0 personnes parties · 2 éléments en retard · 419,60 USD par an" in text
    assert "aucune réponse (2 éléments)" in text
    html = body(msg, "html")
    assert '<html lang="fr">' in html and "<th>Département</th>" in html
    assert_no_english(msg)
    # The same digest with the default language stays English.
    english, _ = compose(findings, mail=MailSettings(escalation_to=("ict-sc@contoso.org",)))
    (digest,) = [n for n in english if n.kind == "digest"]
    assert str(digest.message["Subject"]).startswith("[licensewatch] Steering committee digest")


def test_unassigned_queue_in_french(tmp_path: Path) -> None:
    mail = MailSettings(sender="lw@contoso.org", unassigned_to=("ict@contoso.org",), language="fr")
    notices, _ = compose(mail=mail)
    (notice,) = [n for n in notices if n.language == "fr" and n.department != "LEGAL"]
    msg = deliver([notice], tmp_path)[notice.department]
    text = body(msg, "plain")
    assert text.startswith("Madame, Monsieur,\n")
    assert "figurant ci-dessous (aucun point focal de département n'en est responsable)" in text
    assert f"Département{NBSP}: HR" in text
    assert f"département{NBSP}: HR</span>" in body(msg, "html")


def test_people_beyond_the_limit_are_announced_in_french(tmp_path: Path) -> None:
    msg = deliver(compose(max_people=1)[0], tmp_path)["LEGAL"]
    for kind in ("plain", "html"):
        assert (
            "… et 1 autre personne figure dans le fichier joint licensewatch_legal_2019-12-31.xlsx"
            " (il contient toutes les lignes)." in body(msg, kind)
        )
    assert "erin@x.org" not in body(msg, "plain")
    assert len(attachment(msg)[1]) == 2


def test_markup_in_a_department_name_is_escaped_once(tmp_path: Path) -> None:
    evil = "R&D <b>Labs</b>"
    findings = cycled(
        FINDINGS.assign(department=FINDINGS["department"].replace({"legal": evil, "Legal": evil})),
        {"license:e:e3": ("escalation", "2019-12-03")},
    )
    focal = FOCAL_POINTS.assign(department=FOCAL_POINTS["department"].replace(" LEGAL ", evil))
    mail = MailSettings(escalation_to=("ict-sc@contoso.org",), language="fr")
    notices, _ = compose(findings, focal, mail=mail)
    mine = [n for n in notices if n.department == evil]
    assert [n.kind for n in mine] == ["overdue"]
    (digest,) = [n for n in notices if n.kind == "digest"]
    assert "R&amp;D &lt;b&gt;Labs&lt;/b&gt;" in body(digest.message, "html")
    assert "<b>Labs</b>" not in body(digest.message, "html")
    for notice in mine:
        html = body(notice.message, "html")
        assert "département R&amp;D &lt;b&gt;Labs&lt;/b&gt;" in html
        assert "<b>Labs</b>" not in html and "&amp;amp;" not in html and "&amp;lt;" not in html
        assert f"département {evil}" in body(notice.message, "plain")


def test_every_english_template_has_a_french_one() -> None:
    folder = resources.templates_dir() / "email"
    english = sorted(p for p in folder.glob("*.j2") if ".fr." not in p.name)
    assert len(english) >= 10
    for path in english:
        stem, _, rest = path.name.partition(".")
        variant = folder / f"{stem}.fr.{rest}"
        assert variant.is_file(), variant
        text = variant.read_text(encoding="utf-8")
        # The answer to a reply has no table, so it needs no macros.
        assert "macros.fr.j2" in text or stem in ("macros", "confirmation", "confirmation_subject")
        assert "|safe" not in text.replace(" ", "")


def test_french_subjects_survive_the_wire(tmp_path: Path) -> None:
    # CPython's own folding would turn 'coût évitable' into 'coûtévitable' (cpython#92081).
    notices, _ = compose()
    sent = deliver(notices, tmp_path)
    for notice in notices:
        assert str(sent[notice.department]["Subject"]) == str(notice.message["Subject"])


@pytest.mark.parametrize("seed", range(3))
def test_any_long_accented_subject_survives_the_wire(seed: int) -> None:
    words = [
        "coût",
        "évitable",
        "réponse",
        "au",
        "plus",
        "tard",
        "comptes",
        "inactifs",
        "研究部",
        "José",
        "—",
        "189,60",
    ]
    draw = random.Random(seed)
    for _ in range(300):
        subject = " ".join(draw.choice(words) for _ in range(draw.randint(3, 25)))
        message = EmailMessage(policy=POLICY)
        message["Subject"] = subject
        message.set_content("x")
        data = message.as_bytes()
        assert all(len(line) <= 78 for line in data.split(b"\r\n"))
        back = email.message_from_bytes(data, policy=email.policy.default)
        assert str(back["Subject"]) == subject


ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


def test_every_encoded_word_of_a_subject_is_at_most_75_characters() -> None:
    # RFC 2047 section 2: an encoded word is at most 75 characters; email.header.Header
    # wrote 76-77 for most of these. Lines stay within 78 and decoding gives the subject back.
    words = [
        "Rappel",
        "comptes",
        "inactifs",
        "département",
        "Légal",
        "Électricité",
        "coût",
        "évitable",
        "à",
        "où",
        "ça",
        "déjà",
        "Œuvre",
        "«",
        "»",
        "—",
        "189,60 USD",
        "研究部",
        "José",
        "Zoë",
        "😀",
        "a",
        "",  # two spaces in a row
    ]
    draw = random.Random(2047)
    longest = 0
    for _ in range(3000):
        subject = " ".join(draw.choice(words) for _ in range(draw.randint(1, 40))).strip()
        if subject.isascii():
            continue
        message = EmailMessage(policy=POLICY)
        message["Subject"] = subject
        message.set_content("x")
        head = message.as_bytes().split(b"\r\n\r\n", 1)[0]
        found = ENCODED_WORD.findall(head)
        assert found, head
        longest = max(longest, *map(len, found))
        assert all(len(word) <= 75 for word in found), (subject, found)
        assert all(len(line) <= 78 for line in head.split(b"\r\n")), subject
        back = email.message_from_bytes(head + b"\r\n\r\nx", policy=email.policy.default)
        assert str(back["Subject"]) == subject
        folded = head.decode("ascii").split("Subject: ", 1)[1].split("\r\n")
        value = "\r\n".join(_continued(folded))
        assert str(email.header.make_header(email.header.decode_header(value))) == subject
    assert 60 < longest <= 75


def _continued(lines: list[str]) -> list[str]:
    """The first line and the continuation lines that follow it."""
    taken = [lines[0]]
    for line in lines[1:]:
        if not line.startswith(" "):
            break
        taken.append(line)
    return taken
