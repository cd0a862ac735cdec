"""``[answers.imap]``: the IMAP answers mailbox's options, checked (keys, types, combinations)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from licensewatch.config_keys import resolve
from licensewatch.errors import ConfigError
from licensewatch.options import reject_unknown, typed

WHERE: Final = "[answers.imap]"
SECURITY: Final = ("tls", "starttls", "none")
DEFAULT_PORTS: Final = {"tls": 993, "starttls": 143, "none": 143}
LOOPBACK: Final = ("127.0.0.1", "localhost", "::1")
OPTIONS: Final[dict[str, type]] = {
    "host": str,
    "port": int,
    "security": str,
    "username": str,
    "password_env": str,
    "folder": str,
    "timeout_s": float,
    "ca_file": str,
}
_ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HOST_NAME: Final = re.compile(r"[^\s/]+")
#: Folder names are kept to printable ASCII without quotes or backslashes, so they need
#: neither IMAP's modified UTF-7 nor quoting rules beyond plain double quotes.
FOLDER_NAME: Final = re.compile(r"[ !#-\[\]-~]+")


@dataclass(frozen=True)
class ImapOptions:
    """The validated ``[answers.imap]`` table; ``port`` 0 means the default port of ``security``."""

    host: str
    username: str
    password_env: str
    port: int = 0
    security: str = "tls"
    folder: str = "INBOX"
    timeout_s: float = 60.0
    ca_file: Path | None = None

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
        if not _ENV_NAME.fullmatch(self.password_env):
            # Never echo the value: it may be the password itself, pasted by mistake.
            raise ConfigError(
                f"{WHERE} password_env must name an environment variable (letters, digits, _)",
                hint='write password_env = "LICENSEWATCH_IMAP_PASSWORD" and export the '
                "password in that variable",
            )
        if not FOLDER_NAME.fullmatch(self.folder):
            raise ConfigError(
                f"{WHERE} folder must be printable ASCII without quotes, not {self.folder!r}"
            )
        if self.security == "none" and self.host.lower() not in LOOPBACK:
            raise ConfigError(
                f'{WHERE} security = "none" would send the password to {self.host} in clear',
                hint='use security = "tls" (port 993) or "starttls" (port 143); "none" is for '
                "a server on this machine (127.0.0.1) only",
            )
        if self.security == "none" and self.ca_file is not None:
            raise ConfigError(
                f'{WHERE} ca_file has no use with security = "none"',
                hint="remove ca_file, or set security to tls or starttls",
            )

    @classmethod
    def from_table(cls, table: Mapping[str, Any], base_dir: Path) -> ImapOptions:
        """Check keys, types, ranges and combinations; raise ``ConfigError`` naming the key."""
        if "password" in table:
            raise ConfigError(
                f"{WHERE} password is not allowed: secrets never live in the config",
                hint="export the password in an environment variable and name it with "
                'password_env = "LICENSEWATCH_IMAP_PASSWORD"',
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
        for needed, example in (
            ("host", '"imap.example.org"'),
            ("username", '"ict-licensing"'),
            ("password_env", '"LICENSEWATCH_IMAP_PASSWORD"'),
        ):
            if needed not in v:
                raise ConfigError(
                    f"{WHERE} needs {needed}", hint=f"add {needed} = {example} to {WHERE}"
                )
        if v.get("port") == 0:
            raise ConfigError(f"{WHERE} port must be 1 to 65535, not 0")
        ca_file = v.pop("ca_file", None)
        return cls(**v, ca_file=resolve(base_dir, ca_file) if ca_file else None)

    @property
    def address(self) -> str:
        """``host:port``, as error messages name the server."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
