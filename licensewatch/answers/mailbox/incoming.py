"""One reply from the answers mailbox, parsed strictly and bounded.

``from_bytes`` parses RFC 5322 bytes with the standard library's ``email``
package in its strict policy (a defect is a reason to reject, never a guess),
and returns an ``Incoming``: the sender's address (exactly one ``From``
mailbox, case-folded), the Message-ID (or, when a message has none, one
derived from its bytes so that it is still handled once), the received time,
the authentication verdict, and the attachments that may be answer files.
``problems`` lists what makes the message unusable as a whole (too large, too
many attachments, malformed); the caller rejects it with those reasons.

Bounds: ``MAX_ATTACHMENTS`` files of at most ``MAX_ATTACHMENT_BYTES`` each.
An attachment whose name or type says it is a macro-enabled workbook is kept
with its problem (``.xlsm`` is refused, never opened).
"""

from __future__ import annotations

import email
import email.policy
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import getaddresses
from typing import Final

from licensewatch.answers.mailbox.authresults import Verdict, verdict

MAX_ATTACHMENTS: Final = 10
MAX_ATTACHMENT_BYTES: Final = 10 * 1024 * 1024
ANSWER_SUFFIXES: Final = (".xlsx", ".csv")
MACRO_SUFFIXES: Final = (".xlsm", ".xltm", ".xlsb", ".xlam", ".xls")
MACRO_TYPES: Final = (
    "application/vnd.ms-excel.sheet.macroenabled.12",
    "application/vnd.ms-excel.sheet.binary.macroenabled.12",
    "application/vnd.ms-excel",
)


@dataclass(frozen=True)
class Attachment:
    """A file attached to a reply."""

    filename: str
    content_type: str
    data: bytes
    #: Why this file cannot be read as an answer file ("" when it may be one).
    problem: str = ""

    @property
    def is_answer_file(self) -> bool:
        """Named like one of our answer files (XLSX or CSV)."""
        return self.filename.lower().endswith(ANSWER_SUFFIXES)


@dataclass(frozen=True)
class Incoming:
    """A reply as the answer loop sees it."""

    ref: str
    message_id: str
    sender: str
    subject: str
    received_at: datetime
    authentication: Verdict
    attachments: tuple[Attachment, ...] = ()
    #: What makes the whole message unusable; empty when it can be handled.
    problems: tuple[str, ...] = field(default_factory=tuple)
    #: The sender's language hint is the focal point's, looked up later; kept for replies.
    in_reply_to: str = ""


def _derived_id(raw: bytes) -> str:
    return f"<sha256-{hashlib.sha256(raw).hexdigest()[:40]}@licensewatch.invalid>"


def _sender(message: Message) -> tuple[str, str]:
    """(address, problem) of the single ``From`` mailbox."""
    values = message.get_all("From") or []
    if len(values) != 1:
        return "", "it has no From address" if not values else "it has more than one From header"
    found = [a for _, a in getaddresses([str(values[0])]) if a]
    if len(found) != 1 or "@" not in found[0]:
        return "", "its From header does not hold exactly one address"
    try:
        Address(addr_spec=found[0])
    except (ValueError, IndexError, MessageError):
        return "", "its From address is not a valid address"
    return found[0].casefold(), ""


def _attachments(message: EmailMessage, problems: list[str]) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if not filename:
            continue
        if len(found) == MAX_ATTACHMENTS:
            problems.append(f"it has more than {MAX_ATTACHMENTS} attachments")
            break
        data = part.get_payload(decode=True)
        payload = data if isinstance(data, bytes) else b""
        content_type = part.get_content_type().lower()
        problem = ""
        if filename.lower().endswith(MACRO_SUFFIXES) or content_type in MACRO_TYPES:
            problem = "macro-enabled or old-format workbooks are not accepted; attach the .xlsx"
        elif len(payload) > MAX_ATTACHMENT_BYTES:
            problem = f"it is larger than {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB"
            payload = b""
        found.append(Attachment(filename, content_type, payload, problem))
    return tuple(found)


def from_bytes(
    raw: bytes, *, ref: str, received_at: datetime, trusted_authserv_id: str
) -> Incoming:
    """Parse one message of the answers mailbox (never raises for a bad message)."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.strict)
        assert isinstance(message, EmailMessage)
        sender, sender_problem = _sender(message)
        message_id = str(message.get("Message-ID", "") or "").strip() or _derived_id(raw)
        subject = str(message.get("Subject", "") or "")
        in_reply_to = str(message.get("In-Reply-To", "") or "").strip()
        problems: list[str] = [sender_problem] if sender_problem else []
        attachments = _attachments(message, problems)
        results = [str(v) for v in message.get_all("Authentication-Results") or []]
    except (MessageError, ValueError, LookupError, UnicodeError, AssertionError) as exc:
        return malformed(raw, ref=ref, received_at=received_at, why=str(exc) or type(exc).__name__)
    domain = sender.rsplit("@", 1)[-1] if sender else ""
    return Incoming(
        ref=ref,
        message_id=message_id,
        sender=sender,
        subject=subject,
        received_at=received_at.astimezone(UTC),
        authentication=verdict(results, domain, trusted_authserv_id),
        attachments=attachments,
        problems=tuple(problems),
        in_reply_to=in_reply_to,
    )


def malformed(raw: bytes | None, *, ref: str, received_at: datetime, why: str) -> Incoming:
    """An ``Incoming`` for a message that cannot be read at all (rejected with ``why``)."""
    return Incoming(
        ref=ref,
        message_id=_derived_id(raw or ref.encode()),
        sender="",
        subject="",
        received_at=received_at.astimezone(UTC),
        authentication=Verdict(False, "it could not be read"),
        problems=(f"the message is malformed ({why})" if raw is not None else why,),
    )
