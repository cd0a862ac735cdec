"""`licensewatch demo` end to end at a small size: summary, one email per department, isolation."""

from __future__ import annotations

import csv
import email
import email.policy
import io
from collections import defaultdict
from email.message import EmailMessage
from pathlib import Path

import pytest

from licensewatch.cli.parser import main

AS_OF = "2026-11-21"


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    code = main(
        ["demo", "--dir", str(folder), "--accounts", "1500", "--departments", "8", "--as-of", AS_OF]
    )
    assert code == 0
    return folder


def _findings(demo_dir: Path) -> list[dict[str, str]]:
    with (demo_dir / "reports" / AS_OF / "findings.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _attachment_rows(msg: EmailMessage) -> list[dict[str, str]]:
    for part in msg.iter_attachments():
        if part.get_content_type() == "text/csv":
            text = part.get_content()
            delimiter = ";" if text.split("\n", 1)[0].count(";") > 1 else ","
            return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter))
    raise AssertionError("no CSV attachment")


def test_demo_prints_a_summary_and_writes_reports(
    demo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    findings = _findings(demo_dir)
    assert findings, "the demo organization has dormant resources"
    reasons = {code for row in findings for code in row["reasons"].split(";")}
    assert {"INACTIVE", "NEVER_SIGNED_IN", "SEPARATED", "PHONE_OWNER_DORMANT"} <= reasons
    assert (demo_dir / "reports" / AS_OF / "finance_summary.csv").exists()


def test_demo_emails_carry_only_their_departments_rows(demo_dir: Path) -> None:
    findings = _findings(demo_dir)
    by_department: dict[str, set[str]] = defaultdict(set)
    for row in findings:
        by_department[row["department"]].add(row["subject"])
    messages = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted((demo_dir / "outbox").glob("*.eml"))
    ]
    assert messages
    seen_departments = set()
    for msg in messages:
        assert isinstance(msg, EmailMessage)
        rows = _attachment_rows(msg)
        departments = {
            d for d, subjects in by_department.items() if {r["subject"] for r in rows} & subjects
        }
        assert len(departments) == 1, (msg["Subject"], departments)
        department = departments.pop()
        assert {r["subject"] for r in rows} == by_department[department]
        seen_departments.add(department)
    assert len(seen_departments) == len(messages)
