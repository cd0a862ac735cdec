"""The options of ``[sources.accounts]`` with ``kind = "graph"``, checked before any network call.

Unknown keys, wrong types, out-of-range values and impossible combinations raise
``ConfigError`` naming the key, so a bad config fails at start-up, not mid-pull.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from licensewatch.config import SourceSettings
from licensewatch.errors import ConfigError
from licensewatch.options import reject_unknown, typed

SIGN_IN = "signInActivity"
USAGE_REPORT = "usage-report"
MAX_PAGE_SIZE = 999  # Graph's largest $top for users
LOOPBACK = ("127.0.0.1", "localhost", "::1")
OPTIONS: dict[str, type] = {
    "tenant_id": str,
    "client_id": str,
    "client_secret_env": str,
    "certificate_path": str,
    "certificate_thumbprint": str,
    "certificate_password_env": str,
    "authority": str,
    "graph_url": str,
    "ca_bundle": str,
    "page_size": int,
    "activity": str,
    "max_retries": int,
    "timeout_s": float,
    "verify_count": bool,
    "seats": bool,
}


@dataclass(frozen=True)
class GraphOptions:
    """The validated options of ``[sources.accounts]`` with ``kind = "graph"``."""

    tenant_id: str
    client_id: str
    client_secret_env: str | None = None
    certificate_path: Path | None = None
    certificate_thumbprint: str | None = None
    certificate_password_env: str | None = None
    authority: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    ca_bundle: Path | None = None
    page_size: int = 500
    activity: str = SIGN_IN
    max_retries: int = 6
    timeout_s: float = 60.0
    #: Cross-check the paged users with ``GET /users/$count`` (see sources/graph_chain.py).
    verify_count: bool = True
    #: Also read seats, subscriptions and group licensing (issue 17; sources/graph/seats.py).
    seats: bool = False

    @classmethod
    def from_settings(cls, settings: SourceSettings) -> GraphOptions:
        """Check keys, types, ranges and combinations; raise ``ConfigError`` naming the key."""
        where = f"[sources.{settings.feed}] (kind 'graph')"
        v = _typed_options(settings, where)
        for key in ("tenant_id", "client_id"):
            if not v.get(key, "").strip():
                raise ConfigError(f"{where} needs {key!r}", hint=f'add {key} = "..." to it')
        if ("client_secret_env" in v) == ("certificate_path" in v):
            raise ConfigError(
                f"{where} needs exactly one of client_secret_env and certificate_path",
                hint="name the environment variable holding the client secret, or the "
                "certificate file (PEM or PFX) of the app registration",
            )
        for key in ("certificate_thumbprint", "certificate_password_env"):
            if key in v and "certificate_path" not in v:
                raise ConfigError(f"{where} has {key} but no certificate_path")
        options = cls(
            tenant_id=v["tenant_id"].strip(),
            client_id=v["client_id"].strip(),
            client_secret_env=v.get("client_secret_env"),
            certificate_path=settings.path("certificate_path") if "certificate_path" in v else None,
            certificate_thumbprint=v.get("certificate_thumbprint"),
            certificate_password_env=v.get("certificate_password_env"),
            authority=_url(where, "authority", v.get("authority", cls.authority), https=True),
            graph_url=_url(where, "graph_url", v.get("graph_url", cls.graph_url), https=False),
            ca_bundle=settings.path("ca_bundle") if "ca_bundle" in v else None,
            page_size=v.get("page_size", cls.page_size),
            activity=v.get("activity", cls.activity),
            max_retries=v.get("max_retries", cls.max_retries),
            timeout_s=v.get("timeout_s", cls.timeout_s),
            verify_count=v.get("verify_count", cls.verify_count),
            seats=v.get("seats", cls.seats),
        )
        _check_ranges(where, options)
        return options


def _typed_options(settings: SourceSettings, where: str) -> dict[str, Any]:
    reject_unknown(
        settings.options,
        OPTIONS,
        where,
        listed=("kind", *OPTIONS),
        hint="correct or remove the key",
    )
    return {key: typed(where, key, value, OPTIONS[key]) for key, value in settings.options.items()}


def _url(where: str, key: str, value: str, *, https: bool) -> str:
    parts = urlsplit(value.strip())
    # MSAL accepts only https authorities; plain http is tolerated for a local Graph stand-in.
    local_http = not https and parts.scheme == "http" and parts.hostname in LOOPBACK
    if not parts.hostname or not (parts.scheme == "https" or local_http):
        raise ConfigError(f"{where} {key} must be an https URL, not {value!r}")
    return value.strip().rstrip("/")


def _check_ranges(where: str, o: GraphOptions) -> None:
    if o.activity not in (SIGN_IN, USAGE_REPORT):
        raise ConfigError(
            f"{where} activity must be {SIGN_IN!r} or {USAGE_REPORT!r}, not {o.activity!r}"
        )
    if not 1 <= o.page_size <= MAX_PAGE_SIZE:
        raise ConfigError(f"{where} page_size must be 1 to {MAX_PAGE_SIZE}, not {o.page_size}")
    if not 0 <= o.max_retries <= 20:
        raise ConfigError(f"{where} max_retries must be 0 to 20, not {o.max_retries}")
    if not 0 < o.timeout_s <= 600:
        raise ConfigError(f"{where} timeout_s must be more than 0 and at most 600")
