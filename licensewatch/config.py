"""TOML configuration → typed, validated settings.

Unknown keys are rejected with the list of valid ones. Relative paths (and the
path of a relative ``sqlite:///`` URL) resolve against the config file's
folder. Secrets never live here: a key ending in ``_env`` names an environment
variable, a key ending in ``_path``/``_file`` names a file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from licensewatch.config_keys import (
    MAIL_KEYS,
    Collector,
    ConfigErrors,
    addresses,
    get,
    known,
    non_negative,
    table,
    unknown,
)
from licensewatch.errors import ConfigError

ACTIVITY_SIGNALS = ("successful", "any")
TRANSPORTS = ("directory", "smtp", "graph")
FEEDS = ("accounts", "phones", "separations")
LANGUAGES = ("en", "fr")


@dataclass(frozen=True)
class Policy:
    """Thresholds that decide what is dormant."""

    inactive_days: int = 90
    phone_inactive_days: int = 90
    separation_grace_days: int = 0
    activity_signal: str = "successful"
    max_dormant_fraction: float = 0.25
    max_feed_drop: float = 0.10
    max_new_findings_factor: float = 3.0
    new_findings_floor: int = 100
    #: True when the HR separations feed may hold no rows (else an empty feed brakes).
    allow_empty_separations: bool = False


@dataclass(frozen=True)
class SourceSettings:
    """One feed's source: its ``kind`` and the kind's own options (validated by the adapter)."""

    feed: str
    kind: str
    options: Mapping[str, Any]
    base_dir: Path

    def path(self, key: str = "path") -> Path:
        """The option ``key`` as a path resolved against the config folder."""
        value = self.options.get(key)
        if not isinstance(value, str) or not value:
            raise ConfigError(
                f"[sources.{self.feed}] needs '{key}'",
                hint=f'add {key} = "..." to [sources.{self.feed}] in the config',
            )
        return resolve(self.base_dir, value)

    @property
    def owner_match(self) -> str:
        """The phones feed's ``owner_match`` (``upn`` unless set; its adapter checks the value)."""
        return str(self.options.get("owner_match", "upn"))


@dataclass(frozen=True)
class MailSettings:
    """How and from where focal points are written to."""

    transport: str = "directory"
    directory: Path = Path("outbox")
    sender: str = "licensewatch@example.org"
    reply_to: str | None = None
    response_days: int = 14
    unassigned_to: tuple[str, ...] = ()
    organization: str = "the organization"
    #: Days after the first notice before a reminder, and before the escalation.
    reminder_days: int = 14
    escalate_after_days: int = 28
    escalation_to: tuple[str, ...] = ()
    #: Language of the escalation and unassigned-queue emails (focal points have their own).
    language: str = "en"
    #: The transport's own table: ``[mail.smtp]`` or ``[mail.graph]`` (validated by the transport).
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """Everything a run needs, as read from one config file."""

    config_path: Path
    database_url: str
    policy: Policy
    sources: Mapping[str, SourceSettings]
    rate_card: Path
    focal_points: Path
    exemptions: Path | None
    mail: MailSettings
    reports_dir: Path
    templates_dir: Path | None = None
    device_pool_departments: Mapping[str, str] = field(default_factory=dict)
    #: ``[deprovision] graph``: ``licensewatch deprovision --apply`` removes licences through Graph.
    deprovision_graph: bool = False

    @property
    def base_dir(self) -> Path:
        """The folder the config file is in; relative paths resolve against it."""
        return self.config_path.parent


def secret_variables(settings: Settings) -> list[str]:
    """Names of the environment variables the config says hold secrets (``*_env`` keys)."""
    tables: list[Mapping[str, Any]] = [s.options for s in settings.sources.values()]
    tables.append(settings.mail.options)
    found: set[str] = set()
    while tables:
        table = tables.pop()
        for key, value in table.items():
            if isinstance(value, Mapping):
                tables.append(value)
            elif key.endswith("_env") and isinstance(value, str):
                found.add(value)
    return sorted(found)


def resolve(base: Path, value: str) -> Path:
    """``value`` as a path; relative paths resolve against ``base``."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path)


#: ``[policy]``: each key's type, the test its value must pass, and what the message says otherwise.
_POLICY_RULES: Mapping[str, tuple[type, Callable[[Any], bool], str]] = {
    "inactive_days": (int, lambda v: v >= 0, "must be zero or more"),
    "phone_inactive_days": (int, lambda v: v >= 0, "must be zero or more"),
    "separation_grace_days": (int, lambda v: v >= 0, "must be zero or more"),
    "activity_signal": (
        str,
        lambda v: v in ACTIVITY_SIGNALS,
        f"must be one of {', '.join(ACTIVITY_SIGNALS)}",
    ),
    "max_dormant_fraction": (float, lambda v: 0 < v <= 1, "must be in (0, 1]"),
    "max_feed_drop": (float, lambda v: 0 <= v < 1, "must be in [0, 1)"),
    "max_new_findings_factor": (float, lambda v: v >= 1, "must be 1 or more"),
    "new_findings_floor": (int, lambda v: v >= 0, "must be zero or more"),
    "allow_empty_separations": (bool, lambda v: True, ""),
}

#: Every table the loader checks itself and the keys it accepts (``licensewatch.config_keys``).
TABLE_KEYS: Mapping[str, tuple[str, ...]] = {
    "database": ("url",),
    "policy": tuple(Policy.__dataclass_fields__),
    "sources": FEEDS,
    "rate_card": ("path",),
    "focal_points": ("path",),
    "exemptions": ("path",),
    "mail": MAIL_KEYS,
    "reports": ("dir",),
    "templates": ("dir",),
    "routing": ("device_pools",),
    "deprovision": ("graph",),
}
#: Tables a config must have.
REQUIRED = ("sources", "rate_card", "focal_points")


def _policy_value(t: Mapping[str, Any], key: str) -> Any:
    kind, valid, rule = _POLICY_RULES[key]
    value = get(t, "policy", key, kind, getattr(Policy, key))
    if not valid(value):
        raise ConfigError(f"[policy] {key} {rule}, not {value!r}")
    return value


def _policy(t: Mapping[str, Any], c: Collector) -> Policy:
    values = {
        key: c.run(partial(_policy_value, t, key), getattr(Policy, key)) for key in _POLICY_RULES
    }
    return Policy(**values)


def _source(t: Mapping[str, Any], feed: str, base: Path) -> SourceSettings:
    if feed not in t:
        raise ConfigError(
            f"the config has no [sources.{feed}] table",
            hint=f"add [sources.{feed}] with a kind and its options",
        )
    section = t[feed]
    if not isinstance(section, dict):
        raise ConfigError(f"[sources.{feed}] must be a table")
    kind = section.get("kind")
    if not isinstance(kind, str) or not kind:
        raise ConfigError(
            f"[sources.{feed}] needs a kind", hint=f'add kind = "..." to [sources.{feed}]'
        )
    options = {k: v for k, v in section.items() if k != "kind"}
    return SourceSettings(feed=feed, kind=kind, options=options, base_dir=base)


def _path_of(t: Mapping[str, Any], name: str, base: Path, *, required: bool) -> Path | None:
    value = t.get("path")
    if value is None:
        if required:
            raise ConfigError(f"[{name}] needs a path", hint=f'add path = "..." to [{name}]')
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"[{name}] path must be a non-empty string")
    return resolve(base, value)


def _language(t: Mapping[str, Any]) -> str:
    language = get(t, "mail", "language", str, "en")
    if language not in LANGUAGES:
        raise ConfigError(
            f"[mail] language must be one of {', '.join(LANGUAGES)}, not {language!r}"
        )
    return str(language)


def _mail(t: Mapping[str, Any], base: Path) -> MailSettings:
    transport = get(t, "mail", "transport", str, "directory")
    if transport not in TRANSPORTS:
        raise ConfigError(
            f"[mail] transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}"
        )
    for name in ("smtp", "graph"):
        if name in t and not isinstance(t[name], dict):
            raise ConfigError(f"[mail] {name} must be a table", hint=f"write it as [mail.{name}]")
    if transport in ("smtp", "graph") and transport not in t:
        raise ConfigError(
            f"[mail] transport is {transport!r} but the config has no [mail.{transport}] table",
            hint=f"add [mail.{transport}] (see config/licensewatch.example.toml)",
        )
    options = dict(t[transport]) if transport in ("smtp", "graph") else {}
    reminder = non_negative("mail", "reminder_days", get(t, "mail", "reminder_days", int, 14))
    escalate = non_negative(
        "mail", "escalate_after_days", get(t, "mail", "escalate_after_days", int, 28)
    )
    if reminder < 1 or escalate <= reminder:
        raise ConfigError(
            f"[mail] needs 1 <= reminder_days < escalate_after_days, not {reminder} and {escalate}"
        )
    return MailSettings(
        transport=transport,
        directory=resolve(base, get(t, "mail", "directory", str, "outbox")),
        sender=get(t, "mail", "from", str, "licensewatch@example.org"),
        reply_to=get(t, "mail", "reply_to", str, None),
        response_days=non_negative(
            "mail", "response_days", get(t, "mail", "response_days", int, 14)
        ),
        unassigned_to=addresses(t, "unassigned_to"),
        organization=get(t, "mail", "organization", str, "the organization"),
        reminder_days=reminder,
        escalate_after_days=escalate,
        escalation_to=addresses(t, "escalation_to"),
        language=_language(t),
        options=options,
    )


def _database_url(t: Mapping[str, Any], base: Path) -> str:
    url = get(t, "database", "url", str, "sqlite:///licensewatch.db")
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        rest = url[len(prefix) :]
        if rest and rest != ":memory:":
            url = prefix + str((base / rest).resolve())
    return str(url)


def _device_pools(t: Mapping[str, Any]) -> dict[str, str]:
    pools = t.get("device_pools", {})
    if not isinstance(pools, dict) or not all(isinstance(v, str) for v in pools.values()):
        raise ConfigError(
            "[routing] device_pools must map device pool names to department names",
            hint='write it as [routing.device_pools] then "DP_Geneva" = "Finance"',
        )
    return {str(k): v for k, v in pools.items()}


def load_settings(path: str | Path) -> Settings:
    """Read and validate the config file at ``path``.

    Raises :class:`ConfigError` naming the file and the key that is wrong;
    with several problems, :class:`~licensewatch.config_keys.ConfigErrors`
    holding each. Files the config names are not read here (see
    ``licensewatch.config_check``).
    """
    config_path = Path(path).expanduser().resolve()
    try:
        with config_path.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(
            f"config file {config_path} does not exist",
            hint="pass --config with the path of your licensewatch.toml",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path}: not valid TOML: {exc}") from None
    c = Collector()
    settings = _settings(doc, config_path, c)
    named = [ConfigError(f"{config_path.name}: {e.message}", hint=e.hint) for e in c.errors]
    if named:
        raise named[0] if len(named) == 1 else ConfigErrors(named)
    assert settings is not None
    return settings


def _tables(doc: Mapping[str, Any], c: Collector) -> dict[str, dict[str, Any]]:
    """The tables the config has, each without its unknown keys (every problem kept in ``c``)."""
    c.run(partial(unknown, doc, "top level", tuple(TABLE_KEYS)), None)
    out: dict[str, dict[str, Any]] = {}
    for name, keys in TABLE_KEYS.items():
        found = c.run(partial(table, doc, name, required=name in REQUIRED), None)
        if found is not None:
            c.run(partial(unknown, found, name, keys), None)
            out[name] = known(found, keys)
    return out


def _settings(doc: Mapping[str, Any], config_path: Path, c: Collector) -> Settings | None:
    """The settings, or None when ``c`` kept a problem (each section is checked regardless)."""
    base = config_path.parent
    t = _tables(doc, c)
    none: dict[str, Any] = {}
    sources = {
        feed: found
        for feed in (FEEDS if "sources" in t else ())
        if (found := c.run(partial(_source, t["sources"], feed, base), None)) is not None
    }
    paths = {
        name: c.run(partial(_path_of, t.get(name, none), name, base, required=required), None)
        for name, required in (("rate_card", True), ("focal_points", True), ("exemptions", False))
        if name in t or not required
    }
    database_url = c.run(partial(_database_url, t.get("database", none), base), "")
    policy = _policy(t.get("policy", none), c)
    mail = c.run(partial(_mail, t.get("mail", none), base), MailSettings())
    reports = t.get("reports", none)
    reports_dir = c.run(partial(get, reports, "reports", "dir", str, "reports"), "")
    templates = t.get("templates", none)
    templates_dir = c.run(partial(get, templates, "templates", "dir", str, None), None)
    pools: dict[str, str] = c.run(partial(_device_pools, t.get("routing", none)), {})
    deprovision = t.get("deprovision", none)
    graph = c.run(partial(get, deprovision, "deprovision", "graph", bool, False), False)
    if c.errors:
        return None
    rate_card, focal_points = paths["rate_card"], paths["focal_points"]
    assert rate_card is not None and focal_points is not None
    return Settings(
        config_path=config_path,
        database_url=database_url,
        policy=policy,
        sources=sources,
        rate_card=rate_card,
        focal_points=focal_points,
        exemptions=paths["exemptions"],
        mail=mail,
        reports_dir=resolve(base, reports_dir),
        templates_dir=resolve(base, templates_dir) if templates_dir else None,
        device_pool_departments=pools,
        deprovision_graph=bool(graph),
    )
