"""The ``graph`` transport: each notice goes out with Graph ``sendMail`` from a shared mailbox.

``POST /users/{mailbox}/sendMail`` takes the message as JSON, not MIME: the
composed message is converted (subject, HTML body, To/Cc/Bcc/Reply-To with
their display names, attachments as ``fileAttachment`` with base64
``contentBytes``). Graph answers 202 Accepted with no body; delivery happens
later in Exchange Online. Graph refuses custom ``internetMessageHeaders`` whose
names do not start with ``x-``/``X-`` (``InvalidInternetMessageHeader``), so
only the ``X-…`` headers are passed on. A ``sendMail`` request may not exceed
about 4 MB (attachments included); a larger message is refused here, before
sending. When ``sendMail`` got no usable answer (a read timeout, 502, 504)
the outcome is unknown; before the outbox sends such a message again,
:meth:`GraphMailTransport.find_sent` looks in the mailbox's Sent Items for
its ``X-Licensewatch-Key``. ``internetMessageHeaders`` cannot be filtered on;
Exchange keeps each custom header of a message as a named property of the
PS_INTERNET_HEADERS set (``{00020386-0000-0000-C000-000000000046}``) whose
name is the header's name in lower case, and that property can be filtered on
as a ``singleValueExtendedProperty``. The app needs the Mail.Send *application* permission, which an
application access policy should restrict to the shared mailbox.
"""

from __future__ import annotations

import base64
import random as _random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import getaddresses
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import requests

from licensewatch.config import SourceSettings
from licensewatch.errors import (
    ConfigError,
    DeliveryError,
    DeliveryUnknown,
    TransportUnavailable,
)
from licensewatch.graph import auth
from licensewatch.graph import client as graph_http
from licensewatch.graph.auth import Credential
from licensewatch.graph.client import GraphHttp, encode_json
from licensewatch.graph.errors import GraphError, GraphForbidden, GraphOutcomeUnknown, GraphRefused
from licensewatch.graph.options import GraphOptions
from licensewatch.logs import get_logger
from licensewatch.notify.transports.base import Transport
from licensewatch.options import reject_unknown

log = get_logger(__name__)

TABLE: Final = "[mail.graph]"
OWN_KEYS: Final = ("mailbox", "save_to_sent_items")
#: Keys that name the app and its secret: all from one table, never mixed.
IDENTITY_KEYS: Final = (
    "tenant_id",
    "client_id",
    "client_secret_env",
    "certificate_path",
    "certificate_thumbprint",
    "certificate_password_env",
)
CONNECTION_KEYS: Final = ("authority", "graph_url", "ca_bundle", "max_retries", "timeout_s")
CREDENTIAL_KEYS: Final = IDENTITY_KEYS + CONNECTION_KEYS
#: Graph refuses a sendMail request over about 4 MB; stay under it with room to spare.
MAX_REQUEST_BYTES: Final = 4_000_000
_REFUSED_HINTS: Final = {
    404: "Graph does not know the mailbox: check mailbox in [mail.graph]",
    413: "the message is too large for sendMail: send it with the smtp transport",
}
#: The X-Licensewatch-Key header as Exchange stores it (PS_INTERNET_HEADERS, name lower-cased).
KEY_PROPERTY: Final = "String {00020386-0000-0000-C000-000000000046} Name x-licensewatch-key"
MAIL_SEND_HINT: Final = (
    "grant the app the Mail.Send application permission with admin consent, and restrict it "
    "to the shared mailbox with an application access policy (or Exchange Online RBAC for "
    "Applications)"
)


@dataclass(frozen=True)
class GraphMailOptions:
    """``[mail.graph]``: the shared mailbox to send from, and the Graph app to send as."""

    mailbox: str
    graph: GraphOptions
    save_to_sent_items: bool = True
    #: The config table the credential keys come from (for messages that name a key).
    credential_table: str = TABLE

    @classmethod
    def from_tables(
        cls, mail_graph: Mapping[str, Any], accounts: SourceSettings | None, base_dir: Path
    ) -> GraphMailOptions:
        """Validate ``[mail.graph]``; without its own tenant_id/client_id, reuse the Graph source's.

        Reusing takes the MSAL credentials of ``[sources.accounts]`` (kind
        ``graph``); ``[mail.graph]`` may still set its own connection keys
        (authority, graph_url, ca_bundle, max_retries, timeout_s).
        """
        valid = OWN_KEYS + CREDENTIAL_KEYS
        reject_unknown(mail_graph, valid, TABLE, hint="correct or remove the key")
        mailbox = mail_graph.get("mailbox")
        if not isinstance(mailbox, str) or not mailbox.strip():
            raise ConfigError(
                f"{TABLE} needs 'mailbox'",
                hint='add mailbox = "licensing@contoso.org" (the shared mailbox to send from)',
            )
        save = mail_graph.get("save_to_sent_items", True)
        if not isinstance(save, bool):
            raise ConfigError(f"{TABLE} save_to_sent_items must be true or false, not {save!r}")
        own = {k: v for k, v in mail_graph.items() if k in CREDENTIAL_KEYS}
        if "tenant_id" in own or "client_id" in own:
            graph = _graph_options("mail.graph", own, base_dir)
            return cls(mailbox.strip(), graph, save, TABLE)
        stray = [k for k in IDENTITY_KEYS if k in own]
        if stray:
            raise ConfigError(
                f"{TABLE} has {', '.join(stray)} but no tenant_id and client_id",
                hint="give [mail.graph] the app's tenant_id, client_id and secret, or none of "
                "them to reuse [sources.accounts]' credentials",
            )
        if accounts is None or accounts.kind != "graph":
            raise ConfigError(
                f"{TABLE} has no tenant_id/client_id and [sources.accounts] is not of kind "
                "'graph', so there are no Graph credentials to send mail with",
                hint="add tenant_id, client_id and client_secret_env (or certificate_path) of an "
                "app with the Mail.Send application permission to [mail.graph]",
            )
        shared = {k: v for k, v in accounts.options.items() if k in CREDENTIAL_KEYS}
        # The source's own keys are checked alone first, so a later error is about [mail.graph].
        graph = _graph_options("accounts", shared, accounts.base_dir)
        if own:
            graph = _graph_options("mail.graph", {**shared, **own}, base_dir)
        return cls(mailbox.strip(), graph, save, "[sources.accounts]")


def _graph_options(feed: str, options: Mapping[str, Any], base_dir: Path) -> GraphOptions:
    settings = SourceSettings(feed=feed, kind="graph", options=options, base_dir=base_dir)
    try:
        return GraphOptions.from_settings(settings)
    except ConfigError as exc:
        if feed == "accounts":
            raise
        raise _retabled(exc) from None


def _retabled(exc: ConfigError) -> ConfigError:
    """``exc`` naming ``[mail.graph]`` where the Graph helpers name a ``[sources.…]`` table."""

    def fix(text: str) -> str:
        for old in ("[sources.mail.graph] (kind 'graph')", "[sources.mail.graph]"):
            text = text.replace(old, TABLE)
        return text.replace("[sources.accounts]", TABLE)

    return ConfigError(fix(exc.message), hint=fix(exc.hint) if exc.hint else None)


class GraphMailTransport(Transport):
    """Sends each notice with Graph ``sendMail`` from the shared mailbox (see the module docstring).

    The credential is loaded at construction (a missing secret is a
    ``ConfigError`` before any network call); the session, token and HTTP
    client are built on the first send. ``environ``, ``session_factory``,
    ``sleep``, ``random`` and ``clock`` are injectable so tests never wait.
    """

    def __init__(
        self,
        options: GraphMailOptions,
        *,
        environ: Mapping[str, str] | None = None,
        session_factory: Callable[[], requests.Session] = requests.Session,
        sleep: Callable[[float], None] | None = None,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.options = options
        self._credential = load_credential(options.graph, environ, table=options.credential_table)
        self._graph = graph_http.LazyGraph(
            options.graph,
            self._credential,
            session_factory=session_factory,
            sleep=sleep,
            random=random,
            clock=clock,
            config_table=TABLE,
        )

    @property
    def send_url(self) -> str:
        """Where messages are posted: the shared mailbox's ``sendMail``."""
        mailbox = quote(self.options.mailbox, safe="@")
        return f"{self.options.graph.graph_url}/users/{mailbox}/sendMail"

    def send(self, message: EmailMessage, *, key: str) -> None:
        """Send ``message``; DeliveryError if Graph refused it, TransportUnavailable if down."""
        body = send_mail_body(message, save_to_sent_items=self.options.save_to_sent_items)
        size = len(encode_json(body))
        if size > MAX_REQUEST_BYTES:
            raise DeliveryError(
                f"notice {key} is {size / 1e6:.1f} MB as a Graph sendMail request; Graph refuses "
                f"more than about {MAX_REQUEST_BYTES / 1e6:.0f} MB",
                hint="the attachment is too large to email: send it with the smtp transport, or "
                "split the department's findings",
            )
        try:
            self._client().post_json(self.send_url, body)
        except GraphOutcomeUnknown as exc:
            raise DeliveryUnknown(
                f"cannot tell whether Graph sent notice {key}: {exc.message}",
                hint="before it is sent again (after a grace period, never in the same run) "
                "the mailbox's Sent Items are searched for it",
            ) from None
        except GraphForbidden as exc:
            raise TransportUnavailable(
                f"Graph refused to send notice {key} from {self.options.mailbox}: {exc.message}",
                hint=MAIL_SEND_HINT,
            ) from None
        except GraphRefused as exc:
            what = f"HTTP {exc.status}" + (f" {exc.code}" if exc.code else "")
            what += f": {exc.graph_message}" if exc.graph_message else ""
            raise DeliveryError(
                f"Graph refused notice {key} ({what})",
                hint=_REFUSED_HINTS.get(exc.status, "the message was not sent: Graph says why"),
            ) from None
        except GraphError as exc:
            # Token refused, retries spent, no usable answer (may or may not be sent), TLS:
            # every further message would fail the same way.
            raise TransportUnavailable(
                f"cannot send notice {key} through Graph: {exc.message}", hint=exc.hint
            ) from None
        log.info("notice %s handed to Graph (sendMail from %s)", key, self.options.mailbox)

    def sent_items_url(self, key: str) -> str:
        """The Sent Items query that finds the message whose X-Licensewatch-Key is ``key``."""
        mailbox = quote(self.options.mailbox, safe="@")
        literal = key.replace("'", "''")
        query = (
            f"$filter=singleValueExtendedProperties/any(ep: ep/id eq '{KEY_PROPERTY}' "
            f"and ep/value eq '{literal}')&$select=id,internetMessageId&$top=1"
        )
        return (
            f"{self.options.graph.graph_url}/users/{mailbox}/mailFolders/sentitems/messages?"
            + quote(query, safe="$=&/:',()")
        )

    def find_sent(self, message: EmailMessage, *, key: str) -> bool | None:
        """Whether the mailbox's Sent Items hold the message of ``key``; ``None`` if not kept.

        With ``save_to_sent_items = false`` there is nothing to look in. A
        failed lookup raises ``TransportUnavailable``: the message is not sent
        again until a lookup could be made.
        """
        if not self.options.save_to_sent_items:
            return None
        try:
            doc, _ = self._client().get_json(self.sent_items_url(key))
        except GraphError as exc:
            raise TransportUnavailable(
                f"cannot look for notice {key} in the Sent Items of {self.options.mailbox}: "
                f"{exc.message}",
                hint="the app needs the Mail.Read permission on the mailbox to check "
                "before sending again; the notice stays queued",
            ) from None
        found = doc.get("value")
        return bool(found) if isinstance(found, list) else None

    def close(self) -> None:
        """Close the HTTP session, if a send opened one."""
        self._graph.close()

    def _client(self) -> GraphHttp:
        return self._graph.client()


def load_credential(
    options: GraphOptions, environ: Mapping[str, str] | None, *, table: str = TABLE
) -> Credential:
    """The app's credential, with ``ConfigError`` naming the key in ``table``; no network."""
    try:
        return auth.load_credential(options, environ)
    except ConfigError as exc:
        raise (exc if table == "[sources.accounts]" else _retabled(exc)) from None


def send_mail_body(message: Message, *, save_to_sent_items: bool = True) -> dict[str, Any]:
    """The Graph ``sendMail`` JSON for a composed MIME message."""
    html = _body_part(message, "html")
    text = None if html is not None else _body_part(message, "plain")
    body = (
        {"contentType": "HTML", "content": html}
        if html is not None
        else {"contentType": "Text", "content": text or ""}
    )
    graph: dict[str, Any] = {"subject": _decoded(message.get("Subject", "")), "body": body}
    for header, field in (
        ("To", "toRecipients"),
        ("Cc", "ccRecipients"),
        ("Bcc", "bccRecipients"),
        ("Reply-To", "replyTo"),
    ):
        recipients = _recipients(message, header)
        if recipients:
            graph[field] = recipients
    attachments = [_attachment(part, n) for n, part in enumerate(_attachments(message), 1)]
    if attachments:
        graph["attachments"] = attachments
    # Graph refuses any other custom header (InvalidInternetMessageHeader).
    headers = [
        {"name": name, "value": _unfolded(_decoded(value))}
        for name, value in message.items()
        if name.lower().startswith("x-")
    ]
    if headers:
        graph["internetMessageHeaders"] = headers
    return {"message": graph, "saveToSentItems": save_to_sent_items}


def _decoded(value: object) -> str:
    """A header value as text: policy headers are decoded already, compat32 ones may not be."""
    text = str(value)
    return str(make_header(decode_header(text))) if "=?" in text else text


def _unfolded(text: str) -> str:
    """A header value unfolded and stripped (a folded one re-parsed keeps its leading space)."""
    return re.sub(r"\r?\n[ \t]*", " ", text).strip()


def _recipients(message: Message, header: str) -> list[dict[str, Any]]:
    values = [_decoded(v) for v in message.get_all(header, [])]
    found = []
    for name, address in getaddresses(values):
        if address:
            email: dict[str, str] = {"address": address}
            if name:
                email["name"] = name
            found.append({"emailAddress": email})
    return found


def _body_part(message: Message, subtype: str) -> str | None:
    for part in message.walk():
        if (
            part.get_content_type() == f"text/{subtype}"
            and part.get_content_disposition() != "attachment"
        ):
            return _text_payload(part)
    return None


def _text_payload(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    return data.decode(part.get_content_charset() or "utf-8", errors="replace")


def _attachments(message: Message) -> list[Message]:
    if isinstance(message, EmailMessage):
        return list(message.iter_attachments())
    return [p for p in message.walk() if p.get_content_disposition() == "attachment"]


def _attachment(part: Message, number: int) -> dict[str, Any]:
    data = part.get_payload(decode=True)
    content = data if isinstance(data, bytes) else b""
    attachment: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "name": _decoded(part.get_filename() or f"attachment-{number}"),
        "contentType": part.get_content_type(),
        "contentBytes": base64.b64encode(content).decode("ascii"),
    }
    content_id = part.get("Content-ID")
    if content_id:
        attachment["contentId"] = str(content_id).strip().strip("<>")
        attachment["isInline"] = part.get_content_disposition() == "inline"
    return attachment
