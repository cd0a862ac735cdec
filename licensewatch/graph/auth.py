"""Signing in to Microsoft Graph as an application (MSAL client credentials).

The credential is a client secret read from an environment variable, or a
certificate (PEM or PFX) whose private key signs the client assertion. Both are
loaded and checked before any network call, so ``check-config`` catches a
missing variable or a wrong thumbprint. Messages name the environment variable
or file, never a secret or password.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from msal.exceptions import MsalServiceError

from licensewatch.errors import ConfigError, InputError
from licensewatch.graph.errors import GraphAuthError, GraphFailed, TokenUnavailable
from licensewatch.graph.options import GraphOptions
from licensewatch.logs import get_logger, redact, register_secrets

log = get_logger(__name__)

WORLDWIDE_AUTHORITY = "https://login.microsoftonline.com"
#: Hosts MSAL knows; any other host (an emulator, a test server) turns instance discovery off.
_DISCOVERY_HOST = "login.microsoftonline.com"

#: What to tell the operator for the token errors they can fix.
_TOKEN_HINTS = {
    "invalid_client": "the client secret or certificate is wrong or expired: check "
    "client_secret_env / certificate_path and the app registration's Certificates & secrets",
    "unauthorized_client": "check client_id and that the app is registered in tenant_id",
    "invalid_request": "check tenant_id, client_id and authority",
    "invalid_scope": "check graph_url: the scope is its origin + /.default",
}


@dataclass(frozen=True, repr=False)
class Credential:
    """What MSAL signs in with, plus a description that is safe to log.

    ``value`` is the client secret (str) or the certificate credential dict MSAL
    takes (``private_key`` PEM and the ``public_certificate`` PEM, from which
    MSAL 1.35+ signs the client assertion with PS256 and its SHA-256 thumbprint,
    ``x5t#S256``); it is never printed.
    """

    value: str | dict[str, str]
    description: str

    def __repr__(self) -> str:
        return f"Credential({self.description})"


def secret_from_env(variable: str, environ: Mapping[str, str]) -> Credential:
    """The client secret held in the environment variable ``variable``."""
    secret = environ.get(variable, "")
    if not secret.strip():
        raise ConfigError(
            f"[sources.accounts] client_secret_env names ${variable}, which is "
            + ("empty" if variable in environ else "not set"),
            hint=f"export {variable} with the app's client secret before running licensewatch",
        )
    return Credential(secret, f"client secret from ${variable}")


def certificate_from_file(
    path: Path,
    *,
    thumbprint: str | None,
    password_env: str | None,
    environ: Mapping[str, str],
) -> Credential:
    """The certificate credential in ``path`` (PEM key + certificate, or PFX/PKCS#12).

    The file must hold the certificate: MSAL identifies it to Entra by its
    SHA-256 thumbprint (``x5t#S256``, PS256 signature), which it computes from
    the certificate; the only form that needs no certificate, a bare SHA-1
    ``thumbprint``, is deprecated (RS256 + ``x5t``) and not used. A configured
    ``thumbprint`` (SHA-1, what the Entra admin center shows) must match the
    certificate.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"[sources.accounts] certificate_path {path} cannot be read: {exc.strerror}",
            hint="point certificate_path at the PEM or PFX file of the app's certificate",
        ) from None
    password = _password(password_env, environ)
    if b"-----BEGIN" in data:
        key, cert = _load_pem(path, data, password)
    else:
        key, cert = _load_pfx(path, data, password)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{path}: the private key must be RSA, not {type(key).__name__}")
    configured = _normalize_thumbprint(thumbprint) if thumbprint else None
    # Entra identifies a certificate by its SHA-1 thumbprint; SHA-1 is not used for security here.
    actual = cert.fingerprint(hashes.SHA1()).hex().upper() if cert is not None else None  # noqa: S303
    if configured and actual and configured != actual:
        raise ConfigError(
            f"[sources.accounts] certificate_thumbprint {configured} does not match the "
            f"certificate in {path} (its SHA-1 thumbprint is {actual})",
            hint="copy the thumbprint shown under Certificates & secrets, or leave it out",
        )
    if cert is None or actual is None:
        raise ConfigError(
            f"{path} holds a private key but no certificate: MSAL's SHA-256 certificate form "
            "needs the certificate (a bare SHA-1 thumbprint is deprecated)",
            hint="append the app's certificate to the PEM file (cat key.pem cert.pem), or use "
            "the PFX file",
        )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    certificate = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    # No "thumbprint" key: given one, MSAL falls back to SHA-1 (RS256 + x5t).
    return Credential(
        {"private_key": pem, "public_certificate": certificate}, f"certificate {actual}"
    )


def _password(variable: str | None, environ: Mapping[str, str]) -> bytes | None:
    if variable is None:
        return None
    value = environ.get(variable)
    if not value:
        raise ConfigError(
            f"[sources.accounts] certificate_password_env names ${variable}, which is "
            + ("empty" if variable in environ else "not set"),
            hint=f"export {variable} with the certificate's password, or remove the key",
        )
    return value.encode("utf-8")


def _load_pem(
    path: Path, data: bytes, password: bytes | None
) -> tuple[Any, x509.Certificate | None]:
    try:
        key = serialization.load_pem_private_key(data, password)
    except TypeError:
        # cryptography raises TypeError when the key is encrypted and no password was given
        # (or the other way round).
        raise ConfigError(
            f"{path}: the private key is "
            + ("encrypted: set certificate_password_env" if password is None else "not encrypted")
        ) from None
    except ValueError:
        raise ConfigError(
            f"{path}: no readable private key (wrong password, or not a PEM private key)",
            hint="the PEM file must hold the app certificate's private key",
        ) from None
    try:
        cert: x509.Certificate | None = x509.load_pem_x509_certificates(data)[0]
    except ValueError:
        cert = None  # key-only PEM: the thumbprint must come from the config
    return key, cert


def _load_pfx(
    path: Path, data: bytes, password: bytes | None
) -> tuple[Any, x509.Certificate | None]:
    try:
        key, cert, _ = pkcs12.load_key_and_certificates(data, password)
    except ValueError:
        raise ConfigError(
            f"{path}: not a readable PFX/PKCS#12 file (wrong password, or not a certificate file)",
            hint="check certificate_password_env, or export the certificate again",
        ) from None
    if key is None or cert is None:
        raise ConfigError(f"{path}: the PFX file must hold both the private key and certificate")
    return key, cert


def _normalize_thumbprint(text: str) -> str:
    value = text.replace(":", "").replace(" ", "").upper()
    if len(value) != 40 or any(c not in "0123456789ABCDEF" for c in value):
        raise ConfigError(
            f"[sources.accounts] certificate_thumbprint {text!r} is not a SHA-1 thumbprint",
            hint="40 hexadecimal digits, as the Entra admin center shows it",
        )
    return value


def uses_instance_discovery(authority: str) -> bool:
    """Whether MSAL may run instance discovery (only against the worldwide Microsoft host)."""
    return (urlsplit(authority).hostname or "").lower() == _DISCOVERY_HOST


def graph_scope(graph_url: str) -> str:
    """The ``.default`` scope of the Graph deployment at ``graph_url``."""
    parts = urlsplit(graph_url)
    return f"{parts.scheme}://{parts.netloc}/.default"


class _MsalHttp:
    """The HTTP client MSAL uses: our session (CA bundle, proxies), a timeout, a count."""

    def __init__(self, session: requests.Session, timeout: tuple[float, float]) -> None:
        self._session = session
        self._timeout = timeout
        self.requests = 0

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self._send("GET", url, kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self._send("POST", url, kwargs)

    def _send(self, method: str, url: str, kwargs: dict[str, Any]) -> requests.Response:
        self.requests += 1
        kwargs.setdefault("timeout", self._timeout)
        # Per request: requests lets REQUESTS_CA_BUNDLE override session.verify.
        kwargs.setdefault("verify", self._session.verify)
        return self._session.request(method, url, **kwargs)

    def close(self) -> None:
        """The session belongs to the caller, who closes it."""


@dataclass
class MsalTokens:
    """Application tokens for Graph, reused across the run; ``refresh()`` forces a new one.

    The MSAL application (and its OpenID configuration request) is built on
    first use, so constructing this makes no network call.
    """

    tenant_id: str
    client_id: str
    credential: Credential
    session: requests.Session
    timeout: tuple[float, float]
    authority: str = WORLDWIDE_AUTHORITY
    scope: str = "https://graph.microsoft.com/.default"
    _http: _MsalHttp = field(init=False)
    _app: Any = field(init=False, default=None)
    # MSAL's cache of discovery answers (no tokens), kept when the app is rebuilt on refresh.
    _http_cache: dict[str, Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._http = _MsalHttp(self.session, self.timeout)

    @property
    def requests(self) -> int:
        """HTTP requests sent to the identity platform so far."""
        return self._http.requests

    @property
    def authority_url(self) -> str:
        """The tenant's authority URL, as MSAL takes it."""
        return f"{self.authority.rstrip('/')}/{self.tenant_id}"

    def token(self) -> str:
        """An access token for Graph (from MSAL's cache while it is valid)."""
        return self._acquire()

    def refresh(self) -> str:
        """A new access token, after Graph refused the cached one (401)."""
        # A new application has an empty token cache; remove_tokens_for_client() would
        # instead ask login.microsoftonline.com for authority aliases (an extra request).
        self._app = None
        log.info("Graph refused the access token; getting a new one")
        return self._acquire()

    def _build(self) -> Any:
        discovery = uses_instance_discovery(self.authority)
        return msal.ConfidentialClientApplication(
            self.client_id,
            client_credential=self.credential.value,
            authority=self.authority_url,
            http_client=self._http,
            http_cache=self._http_cache,
            # None lets MSAL decide for its own hosts; any other host must not be sent
            # to login.microsoftonline.com for discovery.
            instance_discovery=None if discovery else False,
        )

    def _acquire(self) -> str:
        try:
            if self._app is None:
                self._app = self._build()
            result = self._app.acquire_token_for_client(scopes=[self.scope])
        except requests.exceptions.SSLError as exc:
            reason = str(exc.args[0]) if exc.args else "TLS error"
            raise GraphFailed(
                f"TLS to the identity platform at {self.authority} failed: {reason[-160:]}",
                hint="if a proxy or private CA signs the certificate, set ca_bundle",
            ) from None
        except (requests.ConnectionError, requests.Timeout, MsalServiceError) as exc:
            raise TokenUnavailable(
                f"the identity platform at {self.authority} could not be reached: "
                f"{type(exc).__name__}"
            ) from None
        except ValueError as exc:
            # MSAL raises ValueError when the OpenID configuration of the tenant is not there.
            raise GraphAuthError(
                f"cannot sign in at {self.authority_url}: {self._scrub(str(exc))}",
                hint="check tenant_id and authority in [sources.accounts]",
            ) from None
        if not isinstance(result, dict) or "access_token" not in result:
            raise self._token_error(result if isinstance(result, dict) else {})
        return str(result["access_token"])

    def _token_error(self, result: Mapping[str, Any]) -> GraphAuthError:
        error = str(result.get("error", "no access token"))
        description = str(result.get("error_description", "")).splitlines()
        first = self._scrub(description[0]) if description else ""
        return GraphAuthError(
            f"the identity platform refused to issue a Graph token ({self.credential.description},"
            f" client {self.client_id}): {error}" + (f": {first}" if first else ""),
            hint=_TOKEN_HINTS.get(error, "check the app registration and admin consent"),
        )

    def _scrub(self, text: str) -> str:
        # No error text coming back from MSAL may carry the secret, in any encoded form
        # (an endpoint echoing the request body shows it URL-encoded).
        secret = self.credential.value
        if isinstance(secret, str) and secret:
            register_secrets([secret])
        return redact(text)


def load_credential(options: GraphOptions, environ: Mapping[str, str] | None) -> Credential:
    """The app's credential (secret from the environment, or the certificate file); no network.

    Raises ``ConfigError`` for a missing secret or unreadable certificate, and
    ``InputError`` when ``ca_bundle`` does not exist.
    """
    env = environ if environ is not None else os.environ
    if options.client_secret_env is not None:
        credential = secret_from_env(options.client_secret_env, env)
    else:
        assert options.certificate_path is not None  # GraphOptions guarantees one or the other
        credential = certificate_from_file(
            options.certificate_path,
            thumbprint=options.certificate_thumbprint,
            password_env=options.certificate_password_env,
            environ=env,
        )
    if options.ca_bundle is not None and not options.ca_bundle.is_file():
        raise InputError.single(str(options.ca_bundle), "ca_bundle file does not exist")
    return credential
