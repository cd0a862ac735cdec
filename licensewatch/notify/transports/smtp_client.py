"""The SMTP connection: smtplib's client with UTF-8 AUTH, TLS, the password, the EHLO name.

Split from :mod:`licensewatch.notify.transports.smtp`, which sends through it.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import smtplib
import socket
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, overload

from licensewatch.errors import ConfigError
from licensewatch.notify.transports.smtp_options import WHERE, SmtpOptions
from licensewatch.options import env_secret

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

_DOTTED_NAME: Final = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)


class SmtpClient(smtplib.SMTP):
    """smtplib's client, noting whether DATA went out (a retry after that may duplicate)."""

    data_sent = False

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.data_sent = True
        return super().data(msg)

    def auth(self, mechanism: str, authobject: Any, *, initial_response_ok: bool = True) -> Any:
        """smtplib's AUTH, with the responses encoded as UTF-8 instead of ASCII.

        smtplib base64-encodes ``authobject(challenge).encode("ascii")``; the
        responses are handed over as :class:`_Utf8` so that call yields UTF-8.
        """

        def utf8(challenge: Any = None) -> Any:
            response = authobject(challenge)
            return None if response is None else _Utf8(response)

        return super().auth(mechanism, utf8, initial_response_ok=initial_response_ok)

    @overload
    def auth_cram_md5(self, challenge: None = None) -> None: ...
    @overload
    def auth_cram_md5(self, challenge: ReadableBuffer) -> str: ...
    def auth_cram_md5(self, challenge: ReadableBuffer | None = None) -> str | None:
        """CRAM-MD5 keyed with the UTF-8 password (smtplib's takes ASCII only)."""
        if challenge is None:
            return None
        digest = hmac.HMAC(self.password.encode("utf-8"), challenge, "md5").hexdigest()
        return f"{self.user} {digest}"


class _Utf8(str):
    """A str whose ``encode()`` is always UTF-8, whatever encoding smtplib asks for."""

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return str(self).encode("utf-8", errors)


class SmtpTlsClient(SmtpClient, smtplib.SMTP_SSL):
    """The same over implicit TLS (SMTPS)."""


def read_password(options: SmtpOptions, environ: Mapping[str, str]) -> str | None:
    if options.password_env is None:
        return None
    return env_secret(
        WHERE,
        "password_env",
        options.password_env,
        environ,
        f"the relay password of {options.username}",
    )


def default_local_hostname(sender: str) -> str:
    """The EHLO name when ``local_hostname`` is not set.

    The machine's fully qualified name (``socket.getfqdn()``) when it has a dot
    in it; else the domain of the ``sender`` address (``[mail] from``), a name
    the relay's organization knows, rather than smtplib's address literal.
    """
    fqdn = socket.getfqdn().strip().rstrip(".")
    if _DOTTED_NAME.fullmatch(fqdn) and not _is_address(fqdn):
        return fqdn
    domain = sender.rpartition("@")[2].strip().rstrip(".")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_domain = domain
    return ascii_domain if _DOTTED_NAME.fullmatch(ascii_domain) else fqdn


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def tls_context(options: SmtpOptions) -> ssl.SSLContext | None:
    if options.security == "none":
        return None
    try:
        # Hostname check and certificate verification are on by default.
        return ssl.create_default_context(cafile=options.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"{WHERE} ca_file {options.ca_file} cannot be read as PEM certificates: "
            f"{getattr(exc, 'strerror', None) or exc}",
            hint="point ca_file at the PEM bundle of the CA that issued the relay's certificate",
        ) from exc
