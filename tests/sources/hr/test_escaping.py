"""Text from HR and reference files is escaped for where it lands: CSV, XLSX-bound CSV, HTML mail.

An HR extract or a reference file is edited by people outside ICT; a name
like ``=HYPERLINK(...)`` or ``<script>`` must reach reports as inert text.
End to end through ``licensewatch run`` on the tiny organization.
"""

from __future__ import annotations

import csv
import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from licensewatch.cli.parser import main
from tests import orgfiles

FORMULA_NAME = '=HYPERLINK("http://evil.example","click")'
FORMULA_DEPARTMENT = "@SUM(1+1)"
HR_DEPARTMENT = "-2+3 <i>Ops</i>"
FOCAL_NAME = 'Zoë <script>alert("x")</script>'
RATE_DESCRIPTION = "<b>Microsoft</b> 365 E3 & co"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def html_parts(folder: Path) -> dict[str, str]:
    out = {}
    for path in sorted(folder.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        body = msg.get_body(("html",))
        assert body is not None
        out[str(msg["To"])] = body.get_content()
    return out


@pytest.fixture
def hostile_org(tmp_path: Path) -> Path:
    separations = orgfiles.SEPARATIONS.replace(
        "E99,zed@contoso.org,Zed Gone,Legal,",
        f'E99,zed@contoso.org,"{FORMULA_NAME.replace(chr(34), chr(34) * 2)}",{FORMULA_DEPARTMENT},',
    )
    # Frank's account has no department: his findings take the HR one.
    separations += f'E7,frank@contoso.org,Frank Bauer,"{HR_DEPARTMENT}",2019-06-30,Transfer\n'
    return orgfiles.write_org(
        tmp_path / "org",
        separations=separations,
        focal_points=orgfiles.FOCAL_POINTS.replace(
            "Zoë Müller", f'"{FOCAL_NAME.replace(chr(34), chr(34) * 2)}"'
        ),
        rate_card=orgfiles.RATE_CARD.replace("Microsoft 365 E3 licence", f'"{RATE_DESCRIPTION}"'),
    )


def test_hostile_text_is_neutralized_in_csv_and_escaped_in_html(hostile_org: Path) -> None:
    assert main(["run", "--config", str(hostile_org), "--as-of", orgfiles.AS_OF]) == 0
    reports = hostile_org.parent / "reports" / orgfiles.AS_OF

    leavers = read_csv(reports / "leavers_without_account.csv")
    assert [(r["name"], r["department"]) for r in leavers] == [
        ("'" + FORMULA_NAME, "'" + FORMULA_DEPARTMENT)
    ]
    frank = [r for r in read_csv(reports / "findings.csv") if r["subject"] == "frank@contoso.org"]
    assert frank and {r["department"] for r in frank} == {"'" + HR_DEPARTMENT}
    assert {r["reasons"] for r in frank} == {"SEPARATED;INACTIVE"}

    html = html_parts(hostile_org.parent / "outbox")
    finance = html["fp.finance@contoso.org"]
    assert "<script>" not in finance and "&lt;script&gt;" in finance
    assert "<b>Microsoft</b>" not in finance
    assert "&lt;b&gt;Microsoft&lt;/b&gt; 365 E3 &amp; co" in finance
