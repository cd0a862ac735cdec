"""A loopback SMTP server for tests (aiosmtpd), with TLS, login and injected faults.

``LoopbackSmtp`` listens on 127.0.0.1 (a free port chosen by the system) in a
thread of its own and records every message it accepts::

    with LoopbackSmtp(tls="starttls", auth={"lw": "pw"}) as server:
        transport = SmtpTransport(server.options(username="lw", password_env="PW"), ...)
        ...
        assert server.messages[0].rcpt_tos == [...]

``tls`` is "none", "starttls" (offered, not required) or "implicit" (SMTPS);
with TLS a throwaway CA and a server certificate for 127.0.0.1/localhost/::1
are generated, and ``ca_file`` is the CA's PEM for the client. ``auth`` maps
users to passwords (compared as UTF-8): AUTH PLAIN/LOGIN is offered (after
STARTTLS when tls is "starttls") and MAIL is refused (530) until the client has
logged in. ``ehlo_names`` records the name each client gave in EHLO/HELO.

Faults: ``refuse_recipients`` get 550 at RCPT; ``fail_data_for(message)``
returning true answers ``fail_data_reply`` at the end of DATA (a 421 reply
also closes the connection, as a relay shutting down does); the next
``fail_next_connections`` connections are greeted with 421 and closed;
``drop_connections()`` closes the open connections from the server side;
``echo_auth`` makes a refused login's 535 reply echo the AUTH argument the
client sent (base64, as some relays do); ``bad_login_challenge`` answers AUTH
LOGIN's password step with a 334 challenge that is not base64.
``rcpt_replies`` maps an address to the reply its RCPT gets (``451 4.7.1
greylisted``), each answer used once (a list) or for ever (a string);
``data_delay_s`` holds the answer to the end of DATA that long after having
accepted (recorded) the message, as a relay slower than the client's timeout.
Everything is synchronous from the test's point of view: a call returns when
the server has done its part, so tests never sleep.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import ipaddress
import ssl
import tempfile
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from licensewatch.notify.transports.smtp import SmtpOptions

HOST = "127.0.0.1"
TLS_MODES = ("none", "starttls", "implicit")
_SECURITY = {"none": "none", "starttls": "starttls", "implicit": "tls"}


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message: EmailMessage
    #: 1-based number of the connection it came on (the controller's self-test not counted).
    connection: int
    tls: bool
    login: str | None
    #: The name the client gave in EHLO (or HELO).
    helo: str | None = None


class LoopbackSmtp:
    """An SMTP server on 127.0.0.1 for one test; a context manager (see the module docstring)."""

    def __init__(
        self,
        *,
        tls: str = "none",
        auth: Mapping[str, str] | None = None,
        refuse_recipients: Collection[str] = (),
        fail_data_for: Callable[[EmailMessage], bool] | None = None,
        fail_data_reply: str = "554 5.6.0 Message rejected by the test server",
        fail_next_connections: int = 0,
        data_size_limit: int = 32 * 1024 * 1024,
        echo_auth: bool = False,
        bad_login_challenge: bool = False,
        auth_mechanisms: Collection[str] = ("PLAIN", "LOGIN"),
        rcpt_replies: Mapping[str, str | list[str]] | None = None,
        data_delay_s: float = 0.0,
    ) -> None:
        if tls not in TLS_MODES:
            raise ValueError(f"tls must be one of {TLS_MODES}, not {tls!r}")
        self.tls = tls
        self.auth = dict(auth or {})
        self.refuse_recipients = {a.lower() for a in refuse_recipients}
        self.fail_data_for = fail_data_for
        self.fail_data_reply = fail_data_reply
        #: Set it at any time: the next n connections are greeted with 421 and closed.
        self.fail_next_connections = 0
        self._initial_faults = fail_next_connections
        self.data_size_limit = data_size_limit
        self.echo_auth = echo_auth
        self.bad_login_challenge = bad_login_challenge
        #: The AUTH mechanisms offered (aiosmtpd has PLAIN and LOGIN).
        self.auth_mechanisms = tuple(auth_mechanisms)
        #: Address → the RCPT reply it gets: a string for ever, a list one by one, then 250.
        self.rcpt_replies: dict[str, str | list[str]] = {
            a.lower(): (list(r) if isinstance(r, list) else r)
            for a, r in (rcpt_replies or {}).items()
        }
        #: Seconds to wait before answering the end of DATA (the message is recorded first).
        self.data_delay_s = data_delay_s
        #: Every RCPT address the server was asked for, in order.
        self.rcpt_asked: list[str] = []
        self.messages: list[Received] = []
        #: The EHLO/HELO names clients gave, in order.
        self.ehlo_names: list[str] = []
        #: Connections accepted so far, refused ones included (the self-test excluded).
        self.connections = 0
        #: QUIT commands received.
        self.quits = 0
        self.ca_file: Path | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._controller: _Controller | None = None
        self._port: int | None = None
        self._sessions: set[_Session] = set()
        self._lock = threading.Lock()

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> LoopbackSmtp:
        """Start listening; returns when the server answers (aiosmtpd's Controller checks)."""
        context = None
        if self.tls != "none":
            self._tmp = tempfile.TemporaryDirectory(prefix="lw-smtp-")
            context, self.ca_file = _server_context(Path(self._tmp.name))
        kwargs: dict[str, Any] = {
            "server_hostname": "localhost",
            "data_size_limit": self.data_size_limit,
            "ident": "licensewatch test SMTP",
        }
        if self.tls == "starttls":
            kwargs["tls_context"] = context
        if self.auth:
            kwargs["authenticator"] = self._authenticate
            # aiosmtpd cannot tell an implicit-TLS connection is encrypted, so with
            # auth_require_tls it would never offer AUTH there (aiosmtpd #281).
            kwargs["auth_require_tls"] = self.tls == "starttls"
            kwargs["auth_exclude_mechanism"] = [
                m for m in ("PLAIN", "LOGIN") if m not in self.auth_mechanisms
            ]
        self._controller = _Controller(
            self,
            _Handler(self),
            hostname=HOST,
            port=0,
            ssl_context=context if self.tls == "implicit" else None,
            **kwargs,
        )
        try:
            self._controller.start()
        except BaseException:
            self._controller = None
            self._cleanup()
            raise
        self._port = int(self._controller.port)
        with self._lock:
            self.connections = 0  # the controller's own readiness check
        self.fail_next_connections = self._initial_faults
        return self

    def stop(self) -> None:
        """Stop the server and remove its certificates; safe to call twice."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
        self._cleanup()

    def __enter__(self) -> LoopbackSmtp:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what a client needs ------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the server listens on (or listened on, once stopped)."""
        assert self._port is not None, "the server was never started"
        return self._port

    def options(self, **overrides: Any) -> SmtpOptions:
        """``SmtpOptions`` that reach this server (security and ca_file to match)."""
        base = SmtpOptions(
            host=HOST,
            port=self.port,
            security=_SECURITY[self.tls],
            ca_file=self.ca_file,
            timeout_s=10.0,
            local_hostname="licensewatch.test",
        )
        return replace(base, **overrides)

    def drop_connections(self, reply: str | None = "421 4.4.2 Idle connection closed") -> int:
        """Close every open connection from the server side (after ``reply``, if given).

        Returns the number of connections closed; returns once plain connections
        are closed (TLS ones have been sent their close_notify).
        """
        assert self._controller is not None, "the server is not running"

        async def drop() -> int:
            sessions = [s for s in self._sessions if s.transport is not None]
            waits = []
            for session in sessions:
                transport = session.transport
                assert isinstance(transport, asyncio.WriteTransport)
                if reply:
                    transport.write(reply.encode("ascii") + b"\r\n")
                if transport.get_extra_info("ssl_object") is None:
                    waits.append(session.lost)
                transport.close()
            await asyncio.gather(*waits)
            return len(sessions)

        future = asyncio.run_coroutine_threadsafe(drop(), self._controller.loop)
        return future.result(timeout=10)

    # -- server side --------------------------------------------------------------------

    def _cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _connected(self) -> tuple[int, bool]:
        """Count a new connection; returns its number and whether to refuse it."""
        with self._lock:
            self.connections += 1
            refuse = self.fail_next_connections > 0
            if refuse:
                self.fail_next_connections -= 1
            return self.connections, refuse

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and self.auth.get(data.login.decode("utf-8", "replace")) == data.password.decode()
        )
        login = data.login.decode() if ok else None
        message = None
        if not ok and self.echo_auth and isinstance(data, LoginPassword):
            # What smtplib sent: PLAIN "\0user\0password" (no authorization id), LOGIN the password.
            sent = (
                b"\0" + data.login + b"\0" + data.password
                if mechanism == "PLAIN"
                else data.password
            )
            message = f"535 5.7.8 Authentication failed for {base64.b64encode(sent).decode()}"
        return AuthResult(success=ok, handled=False, auth_data=login, message=message)


class _Session(SMTP):
    """aiosmtpd's SMTP protocol, numbered and tracked until its connection closes."""

    def __init__(self, owner: LoopbackSmtp, number: int, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.owner = owner
        self.number = number
        self.lost: asyncio.Future[None] = self.loop.create_future()

    def _create_session(self) -> Session:
        return _QuietSession(self.loop)

    async def smtp_EHLO(self, hostname: str) -> None:
        self.owner.ehlo_names.append(hostname)
        await super().smtp_EHLO(hostname)

    async def smtp_HELO(self, hostname: str) -> None:
        self.owner.ehlo_names.append(hostname)
        await super().smtp_HELO(hostname)

    async def challenge_auth(
        self, challenge: str | bytes, encode_to_b64: bool = True, log_client_response: bool = False
    ) -> Any:
        if self.owner.bad_login_challenge and challenge == self.AuthLoginPasswordChallenge:
            challenge, encode_to_b64 = b"P", False  # one character: not base64
        return await super().challenge_auth(challenge, encode_to_b64, log_client_response)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.owner._sessions.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        self.owner._sessions.discard(self)
        if not self.lost.done():
            self.lost.set_result(None)


class _QuietSession(Session):
    """aiosmtpd's session without the deprecation warning it logs on every login."""

    login_data: Any = None  # a plain attribute instead of the warning property


class _Refuse(asyncio.Protocol):
    """A connection the server is too busy to take: 421 and close."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(b"421 4.3.2 Service not available, try again later\r\n")
        transport.close()


class _Controller(Controller):
    def __init__(self, owner: LoopbackSmtp, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.owner = owner

    def factory(self) -> SMTP | _Refuse:
        number, refuse = self.owner._connected()
        if refuse:
            return _Refuse()
        return _Session(self.owner, number, self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # Listening on port 0 leaves the choice to the system (no race for a free
        # port); the readiness check must then connect to the port it picked.
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class _Handler:
    """The aiosmtpd handler: login gate, refused recipients, DATA faults, recording."""

    def __init__(self, owner: LoopbackSmtp) -> None:
        self.owner = owner

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.owner.auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.owner.rcpt_asked.append(address)
        if address.lower() in self.owner.refuse_recipients:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        planned = self.owner.rcpt_replies.get(address.lower())
        if isinstance(planned, list) and planned:
            return planned.pop(0)
        if isinstance(planned, str):
            return planned
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        fail = self.owner.fail_data_for
        if fail is not None and fail(parsed):
            reply = self.owner.fail_data_reply
            if reply.startswith("421") and server.transport is not None:
                # 421 closes the connection; the reply is written before this runs.
                server.loop.call_soon(server.transport.close)
            return reply
        assert isinstance(server, _Session) and server.transport is not None
        self.owner.messages.append(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                data=data,
                message=parsed,
                connection=server.number,
                tls=server.transport.get_extra_info("ssl_object") is not None,
                login=session.auth_data if isinstance(session.auth_data, str) else None,
                helo=session.host_name,
            )
        )
        if self.owner.data_delay_s:
            await asyncio.sleep(self.owner.data_delay_s)
        return "250 2.0.0 OK: queued"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.owner.quits += 1
        return "221 2.0.0 Bye"


def write_test_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1/localhost/::1 in ``folder``.

    Returns the CA's PEM, the server certificate's PEM and its key's PEM (PKCS#8, no
    password); the SMTP and the IMAP test servers use them.
    """
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "licensewatch test CA")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (
        _builder(name, ca_name, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "key.pem"
    ca_file.write_bytes(ca.public_bytes(pem))
    cert_file.write_bytes(cert.public_bytes(pem))
    key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_file, cert_file, key_file


def _server_context(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a certificate for 127.0.0.1/localhost/::1, and its CA's PEM."""
    ca_file, cert_file, key_file = write_test_certificates(folder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, ca_file


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: Any, now: datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
    )


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


@pytest.fixture
def smtp_server() -> Iterator[LoopbackSmtp]:
    """A started plain SMTP server on 127.0.0.1 that accepts every message."""
    with LoopbackSmtp() as server:
        yield server
