"""Reading the answers mailbox through Microsoft Graph (a shared mailbox, Mail.ReadWrite).

Messages are listed from ``/users/{mailbox}/mailFolders/{folder}/messages``
oldest first, ten a page, following ``@odata.nextLink`` (Graph's own paging;
429 and 5xx are retried by :class:`~licensewatch.graph.client.GraphHttp`,
honouring ``Retry-After``). For each message the attachments are listed
without their content (``$select=id,name,contentType,size``), then each file
attachment within ``MAX_ATTACHMENT_BYTES`` is read whole (``contentBytes``,
base64); item and reference attachments are no answer files and are named as
such. ``move`` posts ``/messages/{id}/move`` with the folder's id, creating
the folders of a ``a/b`` path under the mailbox's root on first use.

Authentication: Exchange marks mail from inside the organization
(``X-MS-Exchange-Organization-AuthAs: Internal`` among the
``internetMessageHeaders``); when ``[answers] trusted_authserv_id`` is set, an
``Authentication-Results`` header of that server that passes counts too.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

from licensewatch.answers.mailbox import incoming
from licensewatch.answers.mailbox.authresults import Verdict, exchange_internal, verdict
from licensewatch.answers.mailbox.incoming import Attachment, Incoming
from licensewatch.graph.client import GraphHttp
from licensewatch.graph.errors import GraphError

WHERE: Final = "[answers.graph]"
PAGE_SIZE: Final = 10
_MESSAGE_FIELDS: Final = (
    "id,internetMessageId,receivedDateTime,subject,from,internetMessageHeaders,hasAttachments"
)
_FILE: Final = "#microsoft.graph.fileAttachment"


class GraphMailbox:
    """The answers folder of a mailbox read through Graph."""

    def __init__(
        self, http: GraphHttp, *, graph_url: str, mailbox: str, folder: str = "inbox"
    ) -> None:
        self._http = http
        self._base = f"{graph_url.rstrip('/')}/users/{quote(mailbox, safe='@')}"
        self.folder = folder
        self._folders: dict[str, str] = {}

    def incoming(self, trusted_authserv_id: str | None) -> Iterator[Incoming]:
        """Every message waiting in the answers folder, oldest first, ready for the answer loop."""
        url: str | None = (
            f"{self._base}/mailFolders/{quote(self.folder, safe='')}/messages"
            f"?$select={_MESSAGE_FIELDS}&$orderby=receivedDateTime asc&$top={PAGE_SIZE}"
        )
        while url:
            page, _ = self._http.get_json(url)
            for message in page.get("value", []):
                yield self._incoming(message, trusted_authserv_id)
            url = page.get("@odata.nextLink")

    def move(self, ref: str, folder: str) -> None:
        """Move message ``ref`` into ``folder`` (``a/b`` levels under the root), creating it."""
        target = self._folder_id(folder)
        self._http.post_json(
            f"{self._base}/messages/{quote(ref, safe='')}/move", {"destinationId": target}
        )

    # -- internals ----------------------------------------------------------------------

    def _incoming(self, message: Mapping[str, Any], trusted: str | None) -> Incoming:
        ref = str(message.get("id", ""))
        received = _received(message.get("receivedDateTime"))
        sender = str(((message.get("from") or {}).get("emailAddress") or {}).get("address") or "")
        headers = [
            (str(h.get("name", "")), str(h.get("value", "")))
            for h in message.get("internetMessageHeaders") or []
            if isinstance(h, Mapping)
        ]
        problems: list[str] = [] if "@" in sender else ["it has no From address"]
        attachments = self._attachments(ref, problems) if message.get("hasAttachments") else ()
        return Incoming(
            ref=ref,
            message_id=str(
                message.get("internetMessageId") or f"<graph-{ref}@licensewatch.invalid>"
            ),
            sender=sender.casefold(),
            subject=str(message.get("subject") or ""),
            received_at=received,
            authentication=_verdict(headers, sender, trusted),
            attachments=attachments,
            problems=tuple(problems),
        )

    def _attachments(self, ref: str, problems: list[str]) -> tuple[Attachment, ...]:
        url: str | None = (
            f"{self._base}/messages/{quote(ref, safe='')}/attachments"
            "?$select=id,name,contentType,size,isInline"
        )
        listed: list[Mapping[str, Any]] = []
        while url:
            page, _ = self._http.get_json(url)
            listed.extend(a for a in page.get("value", []) if isinstance(a, Mapping))
            url = page.get("@odata.nextLink")
        found: list[Attachment] = []
        for item in listed:
            if len(found) == incoming.MAX_ATTACHMENTS:
                problems.append(f"it has more than {incoming.MAX_ATTACHMENTS} attachments")
                break
            found.append(self._attachment(ref, item))
        return tuple(found)

    def _attachment(self, ref: str, item: Mapping[str, Any]) -> Attachment:
        name = str(item.get("name") or "")
        content_type = str(item.get("contentType") or "application/octet-stream").lower()
        if item.get("@odata.type") != _FILE:
            return Attachment(
                name, content_type, b"", "it is not a file (an attached item or link)"
            )
        if name.lower().endswith(incoming.MACRO_SUFFIXES) or content_type in incoming.MACRO_TYPES:
            return Attachment(
                name, content_type, b"", "macro-enabled or old-format workbooks are not accepted"
            )
        if int(item.get("size") or 0) > incoming.MAX_ATTACHMENT_BYTES:
            limit = incoming.MAX_ATTACHMENT_BYTES // (1024 * 1024)
            return Attachment(name, content_type, b"", f"it is larger than {limit} MB")
        attachment_id = quote(str(item.get("id", "")), safe="")
        whole, _ = self._http.get_json(
            f"{self._base}/messages/{quote(ref, safe='')}/attachments/{attachment_id}"
        )
        try:
            data = base64.b64decode(str(whole.get("contentBytes") or ""), validate=True)
        except (binascii.Error, ValueError):
            return Attachment(name, content_type, b"", "its content could not be decoded")
        if len(data) > incoming.MAX_ATTACHMENT_BYTES:
            limit = incoming.MAX_ATTACHMENT_BYTES // (1024 * 1024)
            return Attachment(name, content_type, b"", f"it is larger than {limit} MB")
        return Attachment(name, content_type, data)

    def _folder_id(self, path: str) -> str:
        if path in self._folders:
            return self._folders[path]
        parent_url = f"{self._base}/mailFolders"
        folder_id = ""
        for level in [p for p in path.split("/") if p]:
            escaped = level.replace("'", "''")
            name = quote(escaped, safe="")
            page, _ = self._http.get_json(
                f"{parent_url}?$filter=displayName eq '{name}'&$select=id,displayName"
            )
            match = next(
                (
                    f
                    for f in page.get("value", [])
                    if str(f.get("displayName", "")).casefold() == level.casefold()
                ),
                None,
            )
            if match is None:
                try:
                    created = self._http.post_json(parent_url, {"displayName": level}).json()
                except (GraphError, ValueError) as exc:
                    raise _folder_error(path, exc) from None
                match = created
            folder_id = str(match["id"])
            parent_url = f"{self._base}/mailFolders/{quote(folder_id, safe='')}/childFolders"
        self._folders[path] = folder_id
        return folder_id


def _folder_error(path: str, exc: BaseException) -> GraphError:
    if isinstance(exc, GraphError):
        return exc
    return GraphError(f"{WHERE} could not create folder {path!r}: {exc}")


def _received(value: object) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return datetime.now(UTC)


def _verdict(headers: list[tuple[str, str]], sender: str, trusted: str | None) -> Verdict:
    internal = exchange_internal(headers)
    if internal.authenticated or not trusted:
        return internal
    results = [value for name, value in headers if name.lower() == "authentication-results"]
    return verdict(results, sender.rsplit("@", 1)[-1], trusted)
