"""The "smtp" transport: notices go to the organization's mail relay over SMTP.

``[mail.smtp]`` names the relay, how to secure the connection (STARTTLS,
implicit TLS, or — on a loopback relay only, when logging in — none), and the
login. The password never lives in the config: ``password_env`` names the
environment variable that holds it. One connection is opened on the first
message and reused for the following ones.

The login (AUTH PLAIN, LOGIN or CRAM-MD5) sends the user name and password as
UTF-8, so a password with accents or symbols works (smtplib would refuse
anything but ASCII). The client greets the relay (EHLO) with ``local_hostname``;
by default the machine's fully qualified name, or — when the system knows no
name with a dot in it — the domain of ``[mail] from`` (smtplib would greet
with an address literal such as ``[10.0.0.5]``, which many relays refuse).
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from typing import Final

from licensewatch.errors import (
    ConfigError,
    DeliveryDeferred,
    DeliveryError,
    DeliveryUnknown,
    TransportBusy,
    TransportUnavailable,
)
from licensewatch.logs import get_logger, redact
from licensewatch.notify.transports.base import Transport
from licensewatch.notify.transports.smtp_client import (
    SmtpClient,
    SmtpTlsClient,
    default_local_hostname,
    read_password,
    tls_context,
)
from licensewatch.notify.transports.smtp_options import (
    SmtpOptions,
)

__all__ = ["SmtpOptions", "SmtpTransport"]

_SECURITY_HINT: Final = (
    'check [mail.smtp] security ("starttls" on port 587, "tls" on 465) and ca_file'
)
_log = get_logger(__name__)


class SmtpTransport(Transport):
    """Hands each message to the SMTP relay of ``options``; one connection for the whole run.

    ``sender`` is the ``[mail] from`` address, the envelope sender (bounces go
    there). The envelope recipients are the To, Cc and Bcc addresses; Bcc is
    not transmitted. A relay that is unreachable, refuses TLS or the login, or
    answers 421 raises ``TransportUnavailable``; a message the relay refuses
    raises ``DeliveryError`` and the connection stays usable for the next one.
    """

    def __init__(
        self,
        options: SmtpOptions,
        *,
        sender: str,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.options = options
        self._sender = parseaddr(sender)[1]
        if "@" not in self._sender:
            raise ConfigError(f"[mail] from must be an email address, not {sender!r}")
        self._password = read_password(options, os.environ if environ is None else environ)
        self._context = tls_context(options)
        #: The name this client gives in EHLO.
        self.local_hostname = options.local_hostname or default_local_hostname(self._sender)
        self._conn: SmtpClient | None = None

    def send(self, message: EmailMessage, *, key: str) -> None:
        """Deliver ``message``; raises ``DeliveryError`` or ``TransportUnavailable``.

        Some recipients refused: logged, the others got it. All refused:
        ``DeliveryError`` (``DeliveryDeferred`` when every refusal was a 4xx).
        """
        recipients = _recipients(message)
        refused = self._send(message, key, recipients)
        if len(refused) == len(recipients):
            raise self._rejected(key, smtplib.SMTPRecipientsRefused(refused))
        if refused:
            _log.warning(
                "SMTP %s refused %d of %d recipients of %s (sent to the others): %s",
                self.options.address,
                len(refused),
                len(recipients),
                key,
                _reason(smtplib.SMTPRecipientsRefused(refused)),
            )

    def send_to(
        self, message: EmailMessage, *, key: str, recipients: Sequence[str] | None = None
    ) -> dict[str, str]:
        """Deliver ``message`` to ``recipients`` (default: its To, Cc and Bcc); the refused ones.

        Returns each refused address with the relay's answer (``451 4.7.1 …``),
        every recipient refused included; raises for a failure of the message
        as a whole (``DeliveryDeferred`` for a 4xx, ``DeliveryUnknown`` when
        the relay took the data but its answer did not come within ``timeout_s``).
        """
        wanted = _recipients(message) if recipients is None else list(recipients)
        refused = self._send(message, key, wanted)
        return {address: _text(code, reply) for address, (code, reply) in refused.items()}

    def _send(
        self, message: EmailMessage, key: str, recipients: list[str]
    ) -> dict[str, tuple[int, bytes]]:
        if not recipients:
            raise DeliveryError(
                f"{key} has no recipient (no To, Cc or Bcc address)",
                hint="check the focal point's email address",
            )
        for attempt in (1, 2):
            fresh = self._conn is None
            conn = self._connection()
            conn.data_sent = False
            try:
                refused = conn.send_message(message, self._sender, recipients)
            except smtplib.SMTPException as exc:
                codes = _codes(exc)
                if isinstance(exc, smtplib.SMTPRecipientsRefused) and not codes & {421, 530}:
                    return dict(exc.recipients)  # each answer recorded; the caller decides
                if 530 in codes:  # every message would fail alike
                    self._discard()
                    hint = "set [mail.smtp] username and password_env"
                    raise self._unavailable("requires a login", exc, hint) from exc
                if 421 not in codes and not isinstance(exc, smtplib.SMTPServerDisconnected):
                    raise self._rejected(key, exc) from exc
                self._discard()
                if 421 not in codes and conn.data_sent:
                    # The connection closed with the data sent and no answer: it may be queued.
                    raise self._unknown(key, exc) from exc
                # Relays drop idle connections; before DATA nothing was handed over.
                if attempt == 1 and not fresh and not conn.data_sent:
                    _log.info("SMTP %s dropped the connection; reconnecting", self.options.address)
                    continue
                raise self._unavailable(
                    f"dropped the connection while sending {key}", exc, busy=421 in codes
                ) from exc
            except OSError as exc:  # smtplib wraps most; a TLS error may come through as is
                self._discard()
                if conn.data_sent and isinstance(exc, TimeoutError):
                    raise self._unknown(key, exc) from exc
                raise self._unavailable(f"failed while sending {key}", exc) from exc
            return dict(refused)
        raise AssertionError("unreachable: the second attempt returns or raises")

    def close(self) -> None:
        """Say QUIT to the relay; errors are ignored, the run is over anyway."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            conn.close()

    def _connection(self) -> SmtpClient:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _connect(self) -> SmtpClient:
        o = self.options
        conn: SmtpClient | None = None
        try:
            # smtplib checks the certificate against the host given here, not to connect().
            if o.security == "tls":
                conn = SmtpTlsClient(
                    o.host, o.port, self.local_hostname, timeout=o.timeout_s, context=self._context
                )
            else:
                conn = SmtpClient(o.host, o.port, self.local_hostname, timeout=o.timeout_s)
            conn.ehlo()
            if o.security == "starttls":
                if not conn.has_extn("starttls"):
                    raise TransportUnavailable(
                        f"SMTP {o.address} does not offer STARTTLS; nothing was sent in clear",
                        hint=f'{_SECURITY_HINT}; security = "none" only for a relay on this host',
                    )
                conn.starttls(context=self._context)
                conn.ehlo()
            if o.username is not None and self._password is not None:
                conn.login(o.username, self._password)
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, OSError):  # smtplib's errors are OSErrors, as are TLS errors
                raise self._connect_failure(exc) from exc
            if isinstance(exc, Exception) and not isinstance(exc, TransportUnavailable):
                # Anything else (a relay's malformed AUTH challenge, say) must not escape
                # the delivery loop and leave the message claimed as "sending".
                raise self._unavailable("failed while connecting", exc) from exc
            raise
        _log.debug(
            "connected to SMTP %s (security %s) as %s", o.address, o.security, self.local_hostname
        )
        return conn

    def _connect_failure(self, exc: OSError) -> TransportUnavailable:
        o = self.options
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return TransportUnavailable(
                self._scrub(f"SMTP {o.address} refused the login of {o.username}: {_reason(exc)}"),
                hint=f"check [mail.smtp] username and the password in ${o.password_env}",
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return TransportUnavailable(
                f"SMTP {o.address} offers no login (AUTH) on this connection",
                hint="remove username and password_env if the relay needs no login, "
                f"else {_SECURITY_HINT}",
            )
        if isinstance(exc, ssl.SSLError):
            reason = getattr(exc, "verify_message", None) or exc.reason or str(exc)
            return TransportUnavailable(
                f"TLS with SMTP {o.address} failed: {reason}", hint=_SECURITY_HINT
            )
        if isinstance(exc, smtplib.SMTPConnectError):
            return self._unavailable("refused the connection", exc, busy=exc.smtp_code == 421)
        if isinstance(exc, smtplib.SMTPException):
            return self._unavailable("failed while connecting", exc)
        return self._unavailable("cannot be reached", exc)

    def _unavailable(
        self, what: str, exc: BaseException, hint: str | None = None, *, busy: bool = False
    ) -> TransportUnavailable:
        return (TransportBusy if busy else TransportUnavailable)(
            self._scrub(f"SMTP {self.options.address} {what}: {_reason(exc)}"),
            hint=hint
            or "check [mail.smtp] host and port and that the relay accepts mail from this "
            "machine; the other notices stay queued for the next run",
        )

    def _unknown(self, key: str, exc: BaseException) -> DeliveryUnknown:
        return DeliveryUnknown(
            self._scrub(
                f"SMTP {self.options.address} did not answer the end of {key} within "
                f"{self.options.timeout_s:g} s: it may or may not have been accepted "
                f"({_reason(exc)})"
            ),
            hint="it is sent again (same Message-ID) only after a grace period, never "
            "in the same run; raise [mail.smtp] timeout_s if the relay is slow",
        )

    def _rejected(self, key: str, exc: smtplib.SMTPException) -> DeliveryError:
        where, reason = self.options.address, _reason(exc)
        codes = _codes(exc)
        kind = DeliveryDeferred if codes and all(400 <= c < 500 for c in codes) else DeliveryError
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            message = f"SMTP {where} refused every recipient of {key}: {reason}"
            hint = "check the focal points' addresses"
        elif isinstance(exc, smtplib.SMTPSenderRefused):
            message = f"SMTP {where} refused {key} from {self._sender}: {reason}"
            hint = "check [mail] from (the relay must let it send) and the message size"
        else:
            message = f"SMTP {where} rejected {key}: {reason}"
            hint = "the relay refused the content; the notice is retried on the next run"
        return kind(self._scrub(message), hint=hint)

    def _scrub(self, text: str) -> str:
        # redact() masks the password in every form a relay may echo (base64 of the AUTH
        # argument included); the replace covers a transport built before registration.
        text = redact(text)
        return text.replace(self._password, "***") if self._password else text


def _recipients(message: EmailMessage) -> list[str]:
    values = [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])]
    seen: dict[str, str] = {}
    for _, address in getaddresses(values):
        if "@" in address:
            seen.setdefault(address.lower(), address)
    return list(seen.values())


def _codes(exc: smtplib.SMTPException) -> set[int]:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return {code for code, _ in exc.recipients.values()}
    return {exc.smtp_code} if isinstance(exc, smtplib.SMTPResponseException) else set()


def _reason(exc: BaseException) -> str:
    """What went wrong, in one line: the server's reply(ies) where there are some."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{a} ({_text(c, m)})" for a, (c, m) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        return _text(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def _text(code: int, reply: bytes | str) -> str:
    """The server's reply as one line: ``550 5.1.1 no such user``."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return f"{code} {' '.join(text.split())}".strip()
