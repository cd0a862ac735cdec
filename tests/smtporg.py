"""The tiny organization of ``orgfiles`` mailing through a loopback SMTP server."""

from __future__ import annotations

import email
import email.policy
import io
import json
import sqlite3
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

import openpyxl
from sqlalchemy import text

from licensewatch import store
from licensewatch.config import load_settings
from tests import orgfiles
from tests.smtpserver import LoopbackSmtp

ESCALATION_TO = "ict-steering@contoso.org"
UNASSIGNED_TO = "ict-licensing@contoso.org"
#: What identifies each mailbox's rows; none may appear in another department's email.
OWN = {
    "Finance": ["bob@contoso.org", "SEP000000000002"],
    "Legal": ["carol@contoso.org", "dave@contoso.org", "erin@contoso.org", "SEP000000000003"],
    "(unassigned)": ["frank@contoso.org"],
}


def smtp_config(port: int, *, extra_mail: str = "") -> str:
    """The org's config with the SMTP transport pointed at ``127.0.0.1:port``."""
    mail = f"""[mail]
transport = "smtp"
from = "licensewatch@contoso.org"
reply_to = "ict-licensing@contoso.org"
organization = "Contoso"
unassigned_to = ["{UNASSIGNED_TO}"]
escalation_to = ["{ESCALATION_TO}"]
response_days = 15
reminder_days = 14
escalate_after_days = 28
{extra_mail}
[mail.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
timeout_s = 10
"""
    start = orgfiles.CONFIG.index("[mail]")
    end = orgfiles.CONFIG.index("[reports]")
    return orgfiles.CONFIG[:start] + mail + "\n" + orgfiles.CONFIG[end:]


def write_smtp_org(root: Path, server: LoopbackSmtp, **overrides: str) -> Path:
    """Write the org under ``root`` mailing through ``server``; returns the config path."""
    overrides.setdefault("config", smtp_config(server.port))
    return orgfiles.write_org(root, **overrides)


def point_at(config: Path, server: LoopbackSmtp) -> None:
    """Rewrite ``config`` for a server that came back on another port."""
    text = config.read_text(encoding="utf-8")
    start = text.index("port = ", text.index("[mail.smtp]"))
    end = text.index("\n", start)
    config.write_text(text[:start] + f"port = {server.port}" + text[end:], encoding="utf-8")


def keys(server: LoopbackSmtp) -> Counter[str]:
    """How many times each message key arrived."""
    return Counter(str(m.message["X-Licensewatch-Key"]) for m in server.messages)


def whole_text(message: EmailMessage) -> str:
    """Every header and decoded part of ``message``, attachments included."""
    texts = [str(v) for _, v in message.items()]
    for part in message.walk():
        if part.get_content_maintype() == "multipart":
            continue
        content = part.get_content()
        if isinstance(content, bytes) and content.startswith(b"PK\x03\x04"):
            texts.append(workbook_text(content))  # the .xlsx answer file
            continue
        texts.append(content if isinstance(content, str) else content.decode("utf-8"))
    return "\n".join(texts)


def workbook_text(data: bytes) -> str:
    """Every cell of an .xlsx workbook, as text."""
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    cells = [
        str(value)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    ]
    book.close()
    return "\n".join(cells)


def parse(data: bytes) -> EmailMessage:
    """Bytes as received, parsed the way a mail client would."""
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def rows(db: Path, query: str) -> list[tuple[object, ...]]:
    """The rows a query returns from a SQLite file, or from the database a config names."""
    if db.suffix != ".toml":
        with sqlite3.connect(db) as con:
            return list(con.execute(query))
    engine = store.open_engine(load_settings(db).database_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(query))]
    finally:
        engine.dispose()


def drop_licence(config: Path, upn: str) -> None:
    """Remove every licence of ``upn`` from the Graph export (the service desk acted)."""
    for page in sorted((config.parent / "exports" / "graph").glob("users_*.json")):
        doc = json.loads(page.read_text(encoding="utf-8"))
        for user in doc["value"]:
            if user.get("userPrincipalName") == upn:
                user["assignedLicenses"] = []
        page.write_text(json.dumps(doc, indent=1), encoding="utf-8")
