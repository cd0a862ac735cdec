"""The answer to a focal point's reply: what was recorded, what was refused and how to fix it.

Built from a :class:`~licensewatch.answers.judge.Verdict` and queued in the
outbox (kind ``confirmation``) in the same transaction that records the
decisions, so it is sent exactly once like every other email. Its key derives
from the reply's Message-ID; it answers the reply (``In-Reply-To``,
``References``) in the sender's language (the focal point's ``language``,
else ``[mail] language``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

import jinja2
import pandas as pd

from licensewatch.answers.judge import FileVerdict, Verdict
from licensewatch.config import MailSettings
from licensewatch.notify.compose import environment
from licensewatch.notify.mime import POLICY
from licensewatch.notify.routes import header_text
from licensewatch.notify.wording import usd
from licensewatch.store import outbox


def confirmation_key(message_id: str) -> str:
    """The outbox key of the answer to the reply ``message_id`` (stable: queued once)."""
    return "answer_" + hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:24]


def _file_context(
    f: FileVerdict, costs: Mapping[str, int], lang: str, already: Collection[str]
) -> dict[str, Any]:
    decisions = f.decisions if f.decisions is not None else pd.DataFrame()
    removals = decisions[decisions["decision"] == "remove"] if len(decisions) else decisions
    keeps = decisions[decisions["decision"] == "keep"] if len(decisions) else decisions
    cents = sum(int(costs.get(str(r), 0)) for r in removals.get("resource_id", []))
    return {
        "filename": f.filename,
        "department": f.department or "",
        "accepted": f.accepted,
        "already": f.filename in already,
        "refused": f.refused,
        "removal_count": len(removals),
        "keep_count": len(keeps),
        "removal_annual": usd(cents, lang),
        "keeps": [
            {"resource_id": str(r["resource_id"]), "until": f"{r['keep_until']:%Y-%m-%d}"}
            for r in keeps.to_dict("records")
        ],
        "problems": [
            {
                "row": p.row if p.row is not None else "",
                "column": p.column or "",
                "message": p.message,
            }
            for p in f.problems
        ],
    }


def compose_confirmation(
    verdict: Verdict,
    *,
    recorded: int,
    already: Collection[str] = (),
    mail: MailSettings,
    language: str,
    costs: Mapping[str, int],
    now: datetime,
    env: jinja2.Environment | None = None,
) -> outbox.Queued:
    """The answer to one reply, ready for the outbox.

    ``recorded`` is how many decisions were recorded; ``already`` names the
    files that had been recorded before (the same file sent again).
    """
    env = env or environment()
    incoming = verdict.incoming
    key = confirmation_key(incoming.message_id)
    ctx = {
        "organization": mail.organization,
        "processed": verdict.folder == "processed",
        "reason": verdict.reason,
        "no_answer_file": verdict.no_answer_file,
        "received": f"{incoming.received_at:%Y-%m-%d %H:%M} UTC",
        "subject": incoming.subject,
        "files": [_file_context(f, costs, language, already) for f in verdict.files],
        "recorded": recorded,
        "departments": ", ".join(verdict.departments),
    }
    message = EmailMessage(policy=POLICY)
    message["Subject"] = header_text(_render(env, "confirmation_subject", "txt", language, ctx))
    message["From"] = header_text(mail.sender)
    message["To"] = incoming.sender
    if mail.reply_to:
        message["Reply-To"] = header_text(mail.reply_to)
    message["Date"] = format_datetime(now)
    domain = re.sub(r"[^A-Za-z0-9.-]", "", parseaddr(mail.sender)[1].rpartition("@")[2])
    message["Message-ID"] = f"<{key}@{domain or 'localhost'}>"
    if re.fullmatch(r"<[^<>\s]+>", incoming.message_id):
        message["In-Reply-To"] = incoming.message_id
        message["References"] = incoming.message_id
    message["X-Licensewatch-Key"] = key
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(_render(env, "confirmation", "txt", language, ctx))
    message.add_alternative(_render(env, "confirmation", "html", language, ctx), subtype="html")
    return outbox.Queued(
        key=key,
        department=verdict.departments[0] if verdict.departments else "",
        kind=outbox.MessageKind.CONFIRMATION,
        recipients=(incoming.sender,),
        subject=str(message["Subject"]),
        # No cycle clock to start: the answer is about the reply, not about findings.
        resource_ids=(),
        message=message.as_bytes(),
    )


def _render(env: jinja2.Environment, stem: str, ext: str, language: str, ctx: Any) -> str:
    names = [f"email/{stem}.{language}.{ext}.j2", f"email/{stem}.{ext}.j2"]
    return env.select_template(names).render(ctx)
