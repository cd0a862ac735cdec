"""TOML configuration → typed, validated settings.

Unknown keys are rejected with the list of valid ones. Relative paths (and the
path of a relative ``sqlite:///`` URL) resolve against the config file's
folder. Secrets never live here: a key ending in ``_env`` names an environment
variable, a key ending in ``_path``/``_file`` names a file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from licensewatch.cycle_config import CYCLE_KEYS, auto_remove_after_days, cycle_options
from licensewatch.errors import ConfigError
from licensewatch.options import reject_unknown, typed

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
    #: Days after the first escalation before a separated account's unanswered licences
    #: go on the removal list by rule (``None``: never, the default).
    auto_remove_after_days: int | None = None


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
    reminder_days: int = 10
    escalate_after_days: int = 28
    escalation_to: tuple[str, ...] = ()
    #: Days between two escalations of an item still unanswered (``licensewatch.cycle_config``).
    escalate_every_days: int = 30
    #: False: overdue items are chased with the focal points only, no committee digest.
    escalate: bool = True
    #: ``nightly`` or ``weekly`` (at most one email a week per department, on ``weekly_day``).
    cadence: str = "nightly"
    weekly_day: str = "monday"
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


def _table(doc: Mapping[str, Any], name: str, *, required: bool = False) -> dict[str, Any]:
    value = doc.get(name, {})
    if name not in doc and required:
        raise ConfigError(f"the config has no [{name}] table", hint=f"add a [{name}] table")
    if not isinstance(value, dict):
        raise ConfigError(f"'{name}' must be a table", hint=f"write it as [{name}]")
    return dict(value)


def _reject_unknown(table: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> None:
    reject_unknown(table, allowed, f"[{name}]", quote=False, valid_in_hint=True)


def _get(table: Mapping[str, Any], name: str, key: str, kind: type, default: Any) -> Any:
    value = table.get(key, default)
    return None if value is None else typed(f"[{name}]", key, value, kind)


def _non_negative(name: str, key: str, value: int) -> int:
    if value < 0:
        raise ConfigError(f"[{name}] {key} must be zero or more, not {value}")
    return value


def _policy(doc: Mapping[str, Any]) -> Policy:
    t = _table(doc, "policy")
    _reject_unknown(t, "policy", tuple(Policy.__dataclass_fields__))
    d = Policy()
    signal = _get(t, "policy", "activity_signal", str, d.activity_signal)
    if signal not in ACTIVITY_SIGNALS:
        raise ConfigError(
            f"[policy] activity_signal must be one of {', '.join(ACTIVITY_SIGNALS)}, not {signal!r}"
        )
    fraction = _get(t, "policy", "max_dormant_fraction", float, d.max_dormant_fraction)
    if not 0 < fraction <= 1:
        raise ConfigError(f"[policy] max_dormant_fraction must be in (0, 1], not {fraction}")
    feed_drop = _get(t, "policy", "max_feed_drop", float, d.max_feed_drop)
    if not 0 <= feed_drop < 1:
        raise ConfigError(f"[policy] max_feed_drop must be in [0, 1), not {feed_drop}")
    factor = _get(t, "policy", "max_new_findings_factor", float, d.max_new_findings_factor)
    if factor < 1:
        raise ConfigError(f"[policy] max_new_findings_factor must be 1 or more, not {factor}")
    return Policy(
        allow_empty_separations=_get(
            t, "policy", "allow_empty_separations", bool, d.allow_empty_separations
        ),
        max_feed_drop=feed_drop,
        max_new_findings_factor=factor,
        new_findings_floor=_non_negative(
            "policy",
            "new_findings_floor",
            _get(t, "policy", "new_findings_floor", int, d.new_findings_floor),
        ),
        inactive_days=_non_negative(
            "policy", "inactive_days", _get(t, "policy", "inactive_days", int, d.inactive_days)
        ),
        phone_inactive_days=_non_negative(
            "policy",
            "phone_inactive_days",
            _get(t, "policy", "phone_inactive_days", int, d.phone_inactive_days),
        ),
        separation_grace_days=_non_negative(
            "policy",
            "separation_grace_days",
            _get(t, "policy", "separation_grace_days", int, d.separation_grace_days),
        ),
        activity_signal=signal,
        max_dormant_fraction=fraction,
        auto_remove_after_days=auto_remove_after_days(t),
    )


def _sources(doc: Mapping[str, Any], base: Path) -> dict[str, SourceSettings]:
    t = _table(doc, "sources", required=True)
    _reject_unknown(t, "sources", FEEDS)
    out: dict[str, SourceSettings] = {}
    for feed in FEEDS:
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
        out[feed] = SourceSettings(feed=feed, kind=kind, options=options, base_dir=base)
    return out


def _path_of(doc: Mapping[str, Any], name: str, base: Path, *, required: bool) -> Path | None:
    t = _table(doc, name, required=required)
    _reject_unknown(t, name, ("path",))
    value = t.get("path")
    if value is None:
        if required:
            raise ConfigError(f"[{name}] needs a path", hint=f'add path = "..." to [{name}]')
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"[{name}] path must be a non-empty string")
    return resolve(base, value)


MAIL_KEYS = (
    "transport",
    "directory",
    "from",
    "reply_to",
    "unassigned_to",
    "organization",
    "escalation_to",
    "language",
    "smtp",
    "graph",
    *CYCLE_KEYS,
)


def _addresses(table: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise ConfigError(f"[mail] {key} must be an address or a list of addresses")
    return tuple(value)


def _language(t: Mapping[str, Any]) -> str:
    language = _get(t, "mail", "language", str, "en")
    if language not in LANGUAGES:
        raise ConfigError(
            f"[mail] language must be one of {', '.join(LANGUAGES)}, not {language!r}"
        )
    return str(language)


def _mail(doc: Mapping[str, Any], base: Path) -> MailSettings:
    t = _table(doc, "mail")
    _reject_unknown(t, "mail", MAIL_KEYS)
    transport = _get(t, "mail", "transport", str, "directory")
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
    return MailSettings(
        transport=transport,
        directory=resolve(base, _get(t, "mail", "directory", str, "outbox")),
        sender=_get(t, "mail", "from", str, "licensewatch@example.org"),
        reply_to=_get(t, "mail", "reply_to", str, None),
        unassigned_to=_addresses(t, "unassigned_to"),
        organization=_get(t, "mail", "organization", str, "the organization"),
        escalation_to=_addresses(t, "escalation_to"),
        language=_language(t),
        options=options,
        **cycle_options(t),
    )


def _database_url(doc: Mapping[str, Any], base: Path) -> str:
    t = _table(doc, "database")
    _reject_unknown(t, "database", ("url",))
    url = _get(t, "database", "url", str, "sqlite:///licensewatch.db")
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        rest = url[len(prefix) :]
        if rest and rest != ":memory:":
            url = prefix + str((base / rest).resolve())
    return str(url)


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


def load_settings(path: str | Path) -> Settings:
    """Read and validate the config file at ``path``.

    Raises :class:`ConfigError` naming the file and the key that is wrong.
    Files the config names are not read here (see ``licensewatch.checks``).
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
    try:
        return _settings(doc, config_path)
    except ConfigError as exc:
        raise ConfigError(f"{config_path.name}: {exc.message}", hint=exc.hint) from None


def _settings(doc: Mapping[str, Any], config_path: Path) -> Settings:
    _reject_unknown(doc, "top level", TOP_LEVEL)
    base = config_path.parent
    reports = _table(doc, "reports")
    _reject_unknown(reports, "reports", ("dir",))
    templates = _table(doc, "templates")
    _reject_unknown(templates, "templates", ("dir",))
    routing = _table(doc, "routing")
    _reject_unknown(routing, "routing", ("device_pools",))
    pools = routing.get("device_pools", {})
    if not isinstance(pools, dict) or not all(isinstance(v, str) for v in pools.values()):
        raise ConfigError(
            "[routing] device_pools must map device pool names to department names",
            hint='write it as [routing.device_pools] then "DP_Geneva" = "Finance"',
        )
    templates_dir = _get(templates, "templates", "dir", str, None)
    deprovision = _table(doc, "deprovision")
    _reject_unknown(deprovision, "deprovision", ("graph",))
    rate_card = _path_of(doc, "rate_card", base, required=True)
    focal_points = _path_of(doc, "focal_points", base, required=True)
    assert rate_card is not None and focal_points is not None
    return Settings(
        config_path=config_path,
        database_url=_database_url(doc, base),
        policy=_policy(doc),
        sources=_sources(doc, base),
        rate_card=rate_card,
        focal_points=focal_points,
        exemptions=_path_of(doc, "exemptions", base, required=False),
        mail=_mail(doc, base),
        reports_dir=resolve(base, _get(reports, "reports", "dir", str, "reports")),
        templates_dir=resolve(base, templates_dir) if templates_dir else None,
        device_pool_departments={str(k): v for k, v in pools.items()},
        deprovision_graph=bool(_get(deprovision, "deprovision", "graph", bool, False)),
    )
