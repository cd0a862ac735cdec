"""The config loader's key tables, reading one table, and collecting every problem at once.

:data:`TOP_LEVEL` and :data:`MAIL_KEYS` are the loader's own lists of the keys
it accepts (``licensewatch.config.TABLE_KEYS`` maps every table the loader
itself checks to its keys); a ``[sources.<feed>]`` table is checked by its
kind's adapter (its ``KEYS``) and ``[mail.smtp]`` / ``[mail.graph]`` by the
transport. ``licensewatch.config_check.accepted_keys`` gathers all of them, and
a test checks that ``config/licensewatch.example.toml`` documents exactly those.

:class:`Collector` runs the loader's sections one by one and keeps every
``ConfigError`` they raise, so that one pass reports every problem of the file
(:class:`ConfigErrors`), not only the first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from licensewatch.cycle_config import CYCLE_KEYS
from licensewatch.errors import ConfigError
from licensewatch.options import reject_unknown, typed

T = TypeVar("T")

TOP_LEVEL = (
    "database",
    "policy",
    "sources",
    "rate_card",
    "focal_points",
    "exemptions",
    "mail",
    "reports",
    "templates",
    "routing",
    "deprovision",
)

MAIL_KEYS = (
    "transport",
    "directory",
    "from",
    "reply_to",
    "unassigned_to",
    "organization",
    "escalation_to",
    "language",
    "max_people_in_email",
    "smtp",
    "graph",
    *CYCLE_KEYS,
)


class ConfigErrors(ConfigError):
    """Several problems in one config file; ``errors`` holds each as its own ``ConfigError``.

    Its message is the first problem's with "(and N more problems)", as for
    ``InputError``; ``check-config`` lists them all.
    """

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        if not errors:
            raise ValueError("ConfigErrors needs at least one error")
        self.errors = tuple(errors)
        first = self.errors[0]
        more = len(self.errors) - 1
        message = first.message
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        super().__init__(message, hint=first.hint if not more else None)


class Collector:
    """Runs parts of the loader and keeps the ``ConfigError`` each raises."""

    def __init__(self) -> None:
        self.errors: list[ConfigError] = []

    def run(self, part: Callable[[], T], default: T) -> T:
        """``part()``, or ``default`` after recording the ``ConfigError`` it raised."""
        try:
            return part()
        except ConfigErrors as exc:
            self.errors.extend(exc.errors)
        except ConfigError as exc:
            self.errors.append(exc)
        return default

    def raise_if_any(self) -> None:
        """Raise :class:`ConfigErrors` (a plain ``ConfigError`` for one) if anything was kept."""
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise ConfigErrors(self.errors)


def resolve(base: Path, value: str) -> Path:
    """``value`` as a path; relative paths resolve against ``base``."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path)


def table(doc: Mapping[str, Any], name: str, *, required: bool = False) -> dict[str, Any]:
    """The table ``[name]`` of ``doc`` (``{}`` when absent and not ``required``)."""
    value = doc.get(name, {})
    if name not in doc and required:
        raise ConfigError(f"the config has no [{name}] table", hint=f"add a [{name}] table")
    if not isinstance(value, dict):
        raise ConfigError(f"'{name}' must be a table", hint=f"write it as [{name}]")
    return dict(value)


def unknown(table: Mapping[str, Any], name: str, allowed: Sequence[str]) -> None:
    """Raise ``ConfigError`` when ``table`` (``[name]``) has a key outside ``allowed``."""
    reject_unknown(table, tuple(allowed), f"[{name}]", quote=False, valid_in_hint=True)


def known(table: Mapping[str, Any], allowed: Sequence[str]) -> dict[str, Any]:
    """``table`` without its unknown keys (reported apart by :func:`unknown`)."""
    return {k: v for k, v in table.items() if k in allowed}


def get(table: Mapping[str, Any], name: str, key: str, kind: type, default: Any) -> Any:
    """``table[key]`` checked to be a ``kind`` (``default`` when absent)."""
    value = table.get(key, default)
    return None if value is None else typed(f"[{name}]", key, value, kind)


def non_negative(name: str, key: str, value: int) -> int:
    """``value`` unless it is below zero (``ConfigError`` naming ``[name] key``)."""
    if value < 0:
        raise ConfigError(f"[{name}] {key} must be zero or more, not {value}")
    return value


def addresses(table: Mapping[str, Any], key: str, name: str = "mail") -> tuple[str, ...]:
    """``[name] key`` (``[mail]`` by default): one address or a list of them."""
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise ConfigError(f"[{name}] {key} must be an address or a list of addresses")
    return tuple(value)


def path_of(t: Mapping[str, Any], name: str, base: Path, *, required: bool) -> Path | None:
    """``[name] path`` resolved against ``base`` (None when absent and not ``required``)."""
    value = t.get("path")
    if value is None:
        if required:
            raise ConfigError(f"[{name}] needs a path", hint=f'add path = "..." to [{name}]')
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"[{name}] path must be a non-empty string")
    return resolve(base, value)


def database_url(t: Mapping[str, Any], base: Path) -> str:
    """``[database] url``; a relative SQLite path resolves against ``base``."""
    url = get(t, "database", "url", str, "sqlite:///licensewatch.db")
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        rest = url[len(prefix) :]
        if rest and rest != ":memory:":
            url = prefix + str((base / rest).resolve())
    return str(url)


def device_pools(t: Mapping[str, Any]) -> dict[str, str]:
    """``[routing.device_pools]``: device pool name → department."""
    pools = t.get("device_pools", {})
    if not isinstance(pools, dict) or not all(isinstance(v, str) for v in pools.values()):
        raise ConfigError(
            "[routing] device_pools must map device pool names to department names",
            hint='write it as [routing.device_pools] then "DP_Geneva" = "Finance"',
        )
    return {str(k): v for k, v in pools.items()}
