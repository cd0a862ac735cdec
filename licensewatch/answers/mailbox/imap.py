"""Reading the answers mailbox over IMAP (RFC 3501, with MOVE, RFC 6851, where offered).

``ImapMailbox`` logs in (over TLS unless the server is on this machine),
selects the configured folder and hands over every message waiting there,
oldest first, as RFC 5322 bytes with the server's INTERNALDATE. A message
larger than ``MAX_MESSAGE_BYTES`` is not downloaded: it is handed over with no
bytes, to be rejected. ``move`` files a message into the processed or rejected
folder (``UID MOVE``, or ``UID COPY`` + ``\\Deleted`` + expunge on a server
without MOVE), creating the folder on first use. Folder names in the config
use ``/`` between levels; the server's own hierarchy delimiter replaces it.

The TLS certificate is verified as for the SMTP relay (the system's CAs, or
``ca_file``), host name included. The password is registered as a secret for
the logs before it is used, and the login uses ``AUTHENTICATE PLAIN`` in UTF-8
when the server offers it (``LOGIN`` otherwise, ASCII only).

Any failure to reach, log in to or talk to the server is ``MailboxUnavailable``
(exit 1): a night that cannot read the answers does not chase people who may
have answered.
"""

from __future__ import annotations

import imaplib
import re
import socket
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Final

from licensewatch.answers.mailbox.imap_options import WHERE, ImapOptions
from licensewatch.answers.mailbox.incoming import Incoming, from_bytes, malformed
from licensewatch.errors import ConfigError, SourceUnavailable
from licensewatch.logs import get_logger
from licensewatch.options import env_secret

log = get_logger(__name__)

#: A message above this size is not downloaded (it is rejected, with the reason).
MAX_MESSAGE_BYTES: Final = 25 * 1024 * 1024
_INTERNALDATE: Final = re.compile(
    rb'INTERNALDATE "([ \d]\d-[A-Za-z]{3}-\d{4} \d\d:\d\d:\d\d [+-]\d{4})"'
)
_SIZE: Final = re.compile(rb"RFC822\.SIZE (\d+)")
_LIST_DELIMITER: Final = re.compile(rb'\([^)]*\) (?:"((?:[^"\\]|\\.))"|NIL) ')


class MailboxUnavailable(SourceUnavailable):
    """The answers mailbox cannot be reached, logged in to or read."""


@dataclass(frozen=True)
class Waiting:
    """One message waiting in the answers folder."""

    #: The server's reference for it: the IMAP UID (valid with the folder's UIDVALIDITY).
    ref: str
    #: The whole message, or None when it is larger than ``MAX_MESSAGE_BYTES``.
    raw: bytes | None
    size: int
    received_at: datetime


class ImapMailbox:
    """The answers folder of an IMAP server; a context manager that logs out at the end."""

    def __init__(self, options: ImapOptions, environ: Mapping[str, str]) -> None:
        self.options = options
        self._password = read_password(options, environ)
        self._client: imaplib.IMAP4 | None = None
        self._delimiter = "/"
        self._created: set[str] = set()

    # -- life cycle ---------------------------------------------------------------------

    def __enter__(self) -> ImapMailbox:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Connect, log in and select the answers folder."""
        try:
            self._client = self._connect()
            self._login(self._client)
            self._delimiter = self._hierarchy_delimiter(self._client)
            typ, data = self._client.select(_quoted(self.options.folder))
        except (imaplib.IMAP4.error, OSError, ssl.SSLError) as exc:
            self.close()
            raise self._unavailable("cannot open the answers mailbox", exc) from None
        if typ != "OK":
            self.close()
            raise MailboxUnavailable(
                f"{WHERE} folder {self.options.folder!r} cannot be opened on "
                f"{self.options.address}: {_text(data)}",
                hint="set [answers.imap] folder to the folder the replies arrive in "
                '(usually "INBOX")',
            )

    def close(self) -> None:
        """Log out (errors ignored: the session is over either way)."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if client.state == "SELECTED":
                client.close()
            client.logout()
        except (imaplib.IMAP4.error, OSError, ssl.SSLError):
            pass

    # -- reading and filing -------------------------------------------------------------

    def waiting(self) -> Iterator[Waiting]:
        """Every message in the answers folder, oldest (lowest UID) first."""
        client = self._selected()
        try:
            typ, data = client.uid("SEARCH", "ALL")
            uids = sorted({int(u) for u in (data[0] or b"").split()}) if typ == "OK" else []
            for uid in uids:
                found = self._fetch(client, str(uid))
                if found is not None:
                    yield found
        except (imaplib.IMAP4.error, OSError, ssl.SSLError) as exc:
            raise self._unavailable("cannot read the answers mailbox", exc) from None

    def incoming(self, trusted_authserv_id: str | None) -> Iterator[Incoming]:
        """Every waiting message parsed for the answer loop (an oversized one with its problem)."""
        for found in self.waiting():
            if found.raw is None:
                limit = MAX_MESSAGE_BYTES // (1024 * 1024)
                yield malformed(
                    None,
                    ref=found.ref,
                    received_at=found.received_at,
                    why=f"it is larger than {limit} MB",
                )
            else:
                yield from_bytes(
                    found.raw,
                    ref=found.ref,
                    received_at=found.received_at,
                    trusted_authserv_id=trusted_authserv_id or "",
                )

    def move(self, ref: str, folder: str) -> None:
        """File message ``ref`` into ``folder`` (``a/b`` levels), creating the folder if needed."""
        client = self._selected()
        target = _quoted(folder.replace("/", self._delimiter))
        try:
            self._create(client, target)
            if "MOVE" in client.capabilities:
                typ, data = client.uid("MOVE", ref, target)
            else:
                typ, data = client.uid("COPY", ref, target)
                if typ == "OK":
                    client.uid("STORE", ref, "+FLAGS.SILENT", r"(\Deleted)")
                    if "UIDPLUS" in client.capabilities:
                        client.uid("EXPUNGE", ref)
                    else:
                        client.expunge()
        except (imaplib.IMAP4.error, OSError, ssl.SSLError) as exc:
            raise self._unavailable(f"cannot move a message to {folder!r}", exc) from None
        if typ != "OK":
            raise MailboxUnavailable(
                f"{WHERE} the server refused to move message {ref} to {folder!r}: {_text(data)}"
            )

    # -- internals ----------------------------------------------------------------------

    def _selected(self) -> imaplib.IMAP4:
        if self._client is None:
            raise RuntimeError("the mailbox is not open")
        return self._client

    def _connect(self) -> imaplib.IMAP4:
        o = self.options
        if o.security == "tls":
            return imaplib.IMAP4_SSL(o.host, o.port, ssl_context=_context(o), timeout=o.timeout_s)
        client = imaplib.IMAP4(o.host, o.port, timeout=o.timeout_s)
        if o.security == "starttls":
            if "STARTTLS" not in client.capabilities:
                client.shutdown()
                raise MailboxUnavailable(
                    f"{WHERE} {o.address} does not offer STARTTLS",
                    hint='use security = "tls" (port 993) if the server speaks IMAPS',
                )
            client.starttls(ssl_context=_context(o))
        return client

    def _login(self, client: imaplib.IMAP4) -> None:
        user, password = self.options.username, self._password
        if "AUTH=PLAIN" in client.capabilities:
            blob = f"\0{user}\0{password}".encode()
            client.authenticate("PLAIN", lambda _challenge: blob)
            return
        if not (user + password).isascii():
            raise MailboxUnavailable(
                f"{WHERE} {self.options.address} offers only LOGIN, which cannot carry a "
                "non-ASCII user name or password",
            )
        client.login(user, password)

    def _hierarchy_delimiter(self, client: imaplib.IMAP4) -> str:
        typ, data = client.list('""', '""')
        for line in data if typ == "OK" else []:
            if isinstance(line, bytes):
                match = _LIST_DELIMITER.match(line)
                if match and match.group(1):
                    return match.group(1).decode("ascii").replace("\\", "")
        return "/"

    def _create(self, client: imaplib.IMAP4, target: str) -> None:
        if target in self._created:
            return
        typ, data = client.create(target)
        if typ != "OK" and b"ALREADYEXISTS" not in b" ".join(
            d for d in data if isinstance(d, bytes)
        ):
            # Some servers answer NO without the response code when the folder exists:
            # SELECT-free check with STATUS.
            status, _ = client.status(target, "(MESSAGES)")
            if status != "OK":
                raise MailboxUnavailable(f"{WHERE} cannot create folder {target}: {_text(data)}")
        self._created.add(target)

    def _fetch(self, client: imaplib.IMAP4, uid: str) -> Waiting | None:
        typ, data = client.uid("FETCH", uid, "(RFC822.SIZE INTERNALDATE)")
        head = (
            b" ".join(p if isinstance(p, bytes) else p[0] for p in data if p)
            if typ == "OK"
            else b""
        )
        size_match, date_match = _SIZE.search(head), _INTERNALDATE.search(head)
        if size_match is None:
            return None  # expunged meanwhile by another client
        size = int(size_match.group(1))
        received = _internaldate(date_match.group(1)) if date_match else datetime.now(UTC)
        if size > MAX_MESSAGE_BYTES:
            return Waiting(ref=uid, raw=None, size=size, received_at=received)
        typ, data = client.uid("FETCH", uid, "(BODY.PEEK[])")
        raw = next((p[1] for p in data if isinstance(p, tuple)), None) if typ == "OK" else None
        if raw is None:
            return None
        return Waiting(ref=uid, raw=bytes(raw), size=size, received_at=received)

    def _unavailable(self, what: str, exc: BaseException) -> MailboxUnavailable:
        detail = str(exc) or type(exc).__name__
        if isinstance(exc, ssl.SSLCertVerificationError):
            hint = "the server's certificate is not trusted: set [answers.imap] ca_file to its CA"
        elif isinstance(exc, socket.timeout | TimeoutError):
            hint = "the server did not answer in time; raise [answers.imap] timeout_s if it is slow"
        elif isinstance(exc, imaplib.IMAP4.error) and "auth" in detail.lower():
            hint = "check [answers.imap] username and the password in $" + self.options.password_env
        else:
            hint = "check [answers.imap] host, port and security"
        return MailboxUnavailable(f"{WHERE} {what} on {self.options.address}: {detail}", hint=hint)


def read_password(options: ImapOptions, environ: Mapping[str, str]) -> str:
    """The mailbox password from ``$password_env`` (registered for masking), or ``ConfigError``."""
    return env_secret(
        WHERE,
        "password_env",
        options.password_env,
        environ,
        f"the mailbox password of {options.username}",
    )


def _context(options: ImapOptions) -> ssl.SSLContext:
    try:
        # Hostname check and certificate verification are on by default.
        return ssl.create_default_context(cafile=options.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"{WHERE} ca_file {options.ca_file} cannot be read as PEM certificates: "
            f"{getattr(exc, 'strerror', None) or exc}",
            hint="point ca_file at the PEM bundle of the CA that issued the server's certificate",
        ) from exc


def _quoted(folder: str) -> str:
    """An IMAP quoted string (folder names are checked to need no escapes)."""
    return '"' + folder + '"'


def _internaldate(value: bytes) -> datetime:
    return datetime.strptime(value.decode("ascii").strip(), "%d-%b-%Y %H:%M:%S %z").astimezone(UTC)


def _text(data: object) -> str:
    if isinstance(data, list):
        return " ".join(_text(d) for d in data if d is not None)
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    return str(data)
