"""One realistic department's findings, to look at its emails as a focal point does.

Legal Affairs has staff who left holding a licence and a desk phone, accounts
that never signed in, inactive ones (one with a licence the rate card does not
price), a phone unused by an active owner and a meeting-room phone no one
owns; names and addresses are long, as real ones are. Used by the browser
test (tests/notify/test_email_browser.py) and by docs/screenshots/make_screenshots.py.
"""

from __future__ import annotations

import unicodedata
from email.message import EmailMessage
from typing import Any

import pandas as pd

from licensewatch import model
from licensewatch.config import MailSettings
from licensewatch.notify.compose import compose_notices
from tests.reports.costed import AS_OF, costed, finding

DEPARTMENT = "Legal Affairs"
DOMAIN = "legal.example.org"
#: (account, display name, reasons, separation date, last sign-in, extra SKU or "", phone?)
PEOPLE: tuple[tuple[str, str, str, str | None, str | None, str, bool], ...] = (
    ("ana", "Ana Martins", "SEPARATED;INACTIVE", "2019-09-30", "2019-09-27", "", True),
    ("jb", "Jean-Baptiste Lefèvre-Durand", "SEPARATED", "2019-11-15", "2019-11-14", "VISIOCLIENT",
     True),
    ("priya", "Priya Raman", "SEPARATED;INACTIVE", "2019-06-28", "2019-06-20", "", False),
    ("intern04", "Legal intern 04", "NEVER_SIGNED_IN", None, None, "", False),
    ("consult", "Consultant — arbitration", "NEVER_SIGNED_IN", None, None, "", True),
    ("marc", "Marc Dubois", "INACTIVE", None, "2019-05-02", "", True),
    ("sofia", "Sofia Papadopoulou-Katsarou", "INACTIVE", None, "2019-04-11", "POWER_BI_PRO",
     False),
    ("tom", "Tom Okafor", "INACTIVE", None, "2019-08-30", "", True),
    ("li", "Li Wei", "INACTIVE", None, "2019-07-19", "", False),
    ("hana", "Hana Novák", "DISABLED_LICENSED", None, "2019-03-01", "", False),
)  # fmt: skip
MODELS = ("Cisco 8845", "Cisco 7841", "Cisco 8865")


def _findings() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    findings: list[dict[str, Any]] = []
    phones: list[dict[str, Any]] = []
    for n, (account, name, reasons, left, seen, extra, phone) in enumerate(PEOPLE):
        last = unicodedata.normalize("NFKD", name.split()[-1]).encode("ascii", "ignore").decode()
        upn = f"{account}.{last.casefold()}@{DOMAIN}"
        common = {"name": name, "account_id": account, "separation": left, "last_activity": seen}
        findings.append(
            finding(
                f"license:{account}:e3",
                DEPARTMENT,
                upn,
                reasons=reasons,
                accrued=9000 + n,
                **common,
            )
        )
        if extra:
            row = finding(f"license:{account}:{extra.casefold()}", DEPARTMENT, upn,
                          reasons=reasons, item=None, **common)  # fmt: skip
            findings.append({**row, "match_key": extra})
        if phone:
            device = f"SEP00AB1234{n:04X}"
            why = "PHONE_OWNER_DORMANT" if n % 2 == 0 else "PHONE_UNREGISTERED;PHONE_OWNER_DORMANT"
            row = finding(f"phone:{device.casefold()}", DEPARTMENT, device, kind="phone",
                          name=name, item="IP_PHONE", rate=23000, reasons=why,
                          account_id=account, separation=left,
                          last_activity="2019-12-30" if n % 2 == 0 else "2019-10-02")  # fmt: skip
            findings.append({**row, "owner_upn": upn, "match_key": MODELS[n % 3]})
            phones.append(_phone(device, name, MODELS[n % 3], 4100 + n))
    extra_rows = [
        ({**finding("phone:sep00ab12340f0f", DEPARTMENT, "SEP00AB12340F0F", kind="phone",
                    name="Meeting room 3-12", item="IP_PHONE", rate=23000,
                    reasons="PHONE_UNREGISTERED;PHONE_NO_OWNER", last_activity="2019-05-15"),
          "match_key": "Cisco 8832"}, _phone("SEP00AB12340F0F", "Meeting room 3-12", "Cisco 8832",
                                             4999)),
        ({**finding("phone:sep00ab12340e0e", DEPARTMENT, "SEP00AB12340E0E", kind="phone",
                    name="Rosa Lindqvist", item="IP_PHONE", rate=23000, account_id="rosa",
                    reasons="PHONE_UNREGISTERED", last_activity="2019-08-01"),
          "owner_upn": f"rosa.lindqvist@{DOMAIN}", "match_key": "Cisco 7841"},
         _phone("SEP00AB12340E0E", "Rosa Lindqvist", "Cisco 7841", 4120)),
    ]  # fmt: skip
    for row, phone_row in extra_rows:
        findings.append(row)
        phones.append(phone_row)
    return findings, phones


def _phone(device: str, description: str, phone_model: str, extension: int) -> dict[str, Any]:
    return {
        "device_name": device,
        "description": description,
        "model": phone_model,
        "device_pool": "DP_GENEVA_MONTBRILLANT",
        "directory_number": str(extension),
    }


def sample(kind: str = "notice") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The department's costed findings, cycled for ``kind``, and its phone inventory."""
    rows, phones = _findings()
    frame = costed(*rows)
    if kind != "notice":
        asked = AS_OF - pd.Timedelta(days=10 if kind == "reminder" else 20)
        frame = frame.assign(cycle=kind, first_notified_on=asked)
    inventory = pd.DataFrame(phones)
    return frame, inventory


RATES = model.conform(
    pd.DataFrame(
        {
            "item": ["M365_E3", "IP_PHONE"],
            "description": ["Microsoft 365 E3 licence", "IP desk phone with PC port"],
            "resource_kind": ["license", "phone"],
            "matches": ["SPE_E3", "*"],
            "annual_rate_cents": [18960, 23000],
            "effective_from": ["2016-01-01", "2018-07-01"],
            "effective_to": [None, None],
        }
    ),
    model.RATE_CARD,
)


def focal_points(language: str) -> pd.DataFrame:
    """Legal Affairs' focal point, reading ``language``."""
    frame = pd.DataFrame(
        {
            "department": [DEPARTMENT],
            "email": [f"focal.point@{DOMAIN}"],
            "name": ["Camille Moreau"],
            "cc": [None],
            "language": [language],
        }
    )
    return model.conform(frame, model.FOCAL_POINTS)


def message(kind: str = "notice", language: str = "en", **mail: Any) -> EmailMessage:
    """The department's email of ``kind`` (notice, reminder, overdue) in ``language``."""
    findings, phones = sample(kind)
    settings = MailSettings(
        sender="licensewatch@example.org",
        organization="Example Organization",
        reminder_days=7,
        escalate_after_days=28,
        escalation_to=("ict-steering@example.org",),
        **mail,
    )
    notices, _ = compose_notices(
        findings,
        focal_points(language),
        as_of=AS_OF,
        mail=settings,
        rate_card_in_force=RATES,
        run_key="sample",
        phones=phones,
    )
    (notice,) = notices
    assert notice.kind == kind, (notice.kind, kind)
    return notice.message


def html(kind: str = "notice", language: str = "en", **mail: Any) -> str:
    """The HTML part of :func:`message`."""
    part = message(kind, language, **mail).get_body(("html",))
    assert part is not None
    text = part.get_content()
    assert isinstance(text, str)
    return text


def digest_html(language: str = "en") -> str:
    """The steering committee's digest of an escalation day (``[mail] language``) as HTML."""
    findings, phones = sample("notice")
    asked = AS_OF - pd.Timedelta(days=28)
    findings = findings.assign(cycle="escalation", first_notified_on=asked)
    settings = MailSettings(
        sender="licensewatch@example.org",
        organization="Example Organization",
        reminder_days=7,
        escalate_after_days=28,
        escalation_to=("ict-steering@example.org",),
        language=language,
    )
    notices, _ = compose_notices(
        findings,
        focal_points(language),
        as_of=AS_OF,
        mail=settings,
        rate_card_in_force=RATES,
        run_key="sample",
        phones=phones,
    )
    (digest,) = [n for n in notices if n.kind == "digest"]
    part = digest.message.get_body(("html",))
    assert part is not None
    text = part.get_content()
    assert isinstance(text, str)
    return text
