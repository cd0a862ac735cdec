"""``[mail.smtp]``: the SMTP relay's options, checked (keys, types, ranges, combinations)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from licensewatch.config import resolve
from licensewatch.errors import ConfigError
from licensewatch.options import reject_unknown, typed

WHERE: Final = "[mail.smtp]"
SECURITY: Final = ("starttls", "tls", "none")
DEFAULT_PORTS: Final = {"starttls": 587, "tls": 465, "none": 25}
LOOPBACK: Final = ("127.0.0.1", "localhost", "::1")
OPTIONS: Final[dict[str, type]] = {
    "host": str,
    "port": int,
    "security": str,
    "username": str,
    "password_env": str,
    "timeout_s": float,
    "ca_file": str,
    "local_hostname": str,
}
_ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HOST_NAME: Final = re.compile(r"[^\s/]+")


@dataclass(frozen=True)
class SmtpOptions:
    """The validated ``[mail.smtp]`` table; ``port`` 0 means the default port of ``security``."""

    host: str
    port: int = 0
    security: str = "starttls"
    username: str | None = None
    password_env: str | None = None
    timeout_s: float = 30.0
    ca_file: Path | None = None
    local_hostname: str | None = None

    def __post_init__(self) -> None:
        if not _HOST_NAME.fullmatch(self.host):
            raise ConfigError(f"{WHERE} host must be a host name or address, not {self.host!r}")
        if self.security not in SECURITY:
            raise ConfigError(
                f"{WHERE} security must be one of {', '.join(SECURITY)}, not {self.security!r}"
            )
        if self.port == 0:
            object.__setattr__(self, "port", DEFAULT_PORTS[self.security])
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"{WHERE} port must be 1 to 65535, not {self.port}")
        if not 0 < self.timeout_s <= 600:
            raise ConfigError(f"{WHERE} timeout_s must be more than 0 and at most 600")
        if (self.username is None) != (self.password_env is None):
            raise ConfigError(
                f"{WHERE} {'username' if self.username is None else 'password_env'} is missing: "
                "a login needs both username and password_env",
                hint="set both to log in to the relay, or neither to send without a login",
            )
        if self.password_env is not None and not _ENV_NAME.fullmatch(self.password_env):
            # Never echo the value: it may be the password itself, pasted by mistake.
            raise ConfigError(
                f"{WHERE} password_env must name an environment variable (letters, digits, _)",
                hint='write password_env = "LICENSEWATCH_SMTP_PASSWORD" and export the '
                "password in that variable",
            )
        if self.security == "none" and self.username and self.host.lower() not in LOOPBACK:
            raise ConfigError(
                f'{WHERE} security = "none" with a username would send the password to '
                f"{self.host} in clear",
                hint='use security = "starttls" (port 587) or "tls" (port 465)',
            )
        if self.security == "none" and self.ca_file is not None:
            raise ConfigError(
                f'{WHERE} ca_file has no use with security = "none"',
                hint="remove ca_file, or set security to starttls or tls",
            )

    @classmethod
    def from_table(cls, table: Mapping[str, Any], base_dir: Path) -> SmtpOptions:
        """Check keys, types, ranges and combinations; raise ``ConfigError`` naming the key."""
        if "password" in table:
            raise ConfigError(
                f"{WHERE} password is not allowed: secrets never live in the config",
                hint="export the password in an environment variable and name it with "
                'password_env = "LICENSEWATCH_SMTP_PASSWORD"',
            )
        reject_unknown(table, OPTIONS, WHERE, hint=f"correct or remove the key in {WHERE}")
        v: dict[str, Any] = {}
        for key, value in table.items():
            shown = "..." if key == "password_env" else None
            value = typed(WHERE, key, value, OPTIONS[key], shown=shown)
            if isinstance(value, str) and key != "password_env":
                value = value.strip()
                if not value:
                    raise ConfigError(f"{WHERE} {key} must not be empty")
            v[key] = value
        if "host" not in v:
            raise ConfigError(
                f"{WHERE} needs host", hint=f'add host = "smtp.example.org" to {WHERE}'
            )
        if v.get("port") == 0:
            raise ConfigError(f"{WHERE} port must be 1 to 65535, not 0")
        ca_file = v.pop("ca_file", None)
        return cls(**v, ca_file=resolve(base_dir, ca_file) if ca_file else None)

    @property
    def address(self) -> str:
        """``host:port``, as error messages name the relay."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
