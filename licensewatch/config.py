"""TOML configuration → typed, validated settings.

Unknown keys are rejected with the list of valid ones. Relative paths (and the
path of a relative ``sqlite:///`` URL) resolve against the config file's
folder. Secrets never live here: a key ending in ``_env`` names an environment
variable, a key ending in ``_path``/``_file`` names a file.

Every table is checked and every problem kept (:func:`draft_settings`), so one
pass reports them all. The key tables and the helpers that read one table are
in :mod:`licensewatch.config_keys`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from licensewatch.answers.mailbox.options import OPTIONS as ANSWERS_OPTIONS
from licensewatch.answers.mailbox.options import AnswersOptions, answers_options
from licensewatch.config_keys import (
    MAIL_KEYS,
    Collector,
    ConfigErrors,
    addresses,
    database_url,
    device_pools,
    get,
    known,
    non_negative,
    path_of,
    table,
    unknown,
)
from licensewatch.config_keys import resolve as resolve
from licensewatch.cycle_config import auto_remove_after_days, cycle_options
from licensewatch.errors import ConfigError
from licensewatch.filemodes import FileModes, file_modes
from licensewatch.retention import RETENTION_KEYS, Retention, retention

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
    #: The most people one email lists (every separated person is listed even past it;
    #: the attachments always hold every row).
    max_people_in_email: int = 50
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
    #: ``[answers]``: the mailbox the focal points' replies are read from (None: none is read).
    answers: AnswersOptions | None = None
    #: ``[deprovision] groups``: ``--apply`` also takes accounts out of licensing groups.
    deprovision_groups: bool = False
    #: ``[finance]``: renewals within this many days are listed; who is told of them.
    renewal_horizon_days: int = 120
    finance_notify_to: tuple[str, ...] = ()
    #: ``[reports] file_mode`` and ``group``: of every report and email file and folder.
    file_modes: FileModes = field(default_factory=FileModes)
    #: ``[retention]``: days of row-level history, email bodies and report folders kept.
    retention: Retention = field(default_factory=Retention)

    @property
    def base_dir(self) -> Path:
        """The folder the config file is in; relative paths resolve against it."""
        return self.config_path.parent


def secret_variables(settings: Settings | Draft) -> list[str]:
    """Names of the environment variables the config says hold secrets (``*_env`` keys).

    Of a :class:`Draft` too: those of the tables that read without a problem.
    """
    tables: list[Mapping[str, Any]] = [s.options for s in settings.sources.values()]
    if settings.mail is not None:
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
    "reports": ("dir", "file_mode", "group"),
    "templates": ("dir",),
    "routing": ("device_pools",),
    "deprovision": ("graph", "groups"),
    "finance": ("renewal_horizon_days", "notify_to"),
    "answers": tuple(ANSWERS_OPTIONS),
    "retention": RETENTION_KEYS,
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
    rule = c.run(partial(auto_remove_after_days, t), None)
    return Policy(**values, auto_remove_after_days=rule)


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


def _language(t: Mapping[str, Any]) -> str:
    language = get(t, "mail", "language", str, "en")
    if language not in LANGUAGES:
        raise ConfigError(
            f"[mail] language must be one of {', '.join(LANGUAGES)}, not {language!r}"
        )
    return str(language)


def _max_people(t: Mapping[str, Any]) -> int:
    value = get(t, "mail", "max_people_in_email", int, 50)
    if value < 1:
        raise ConfigError(
            f"[mail] max_people_in_email must be at least 1, not {value}",
            hint="the email lists that many people; the attachments always hold every row",
        )
    return int(value)


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
    return MailSettings(
        transport=transport,
        directory=resolve(base, get(t, "mail", "directory", str, "outbox")),
        sender=get(t, "mail", "from", str, "licensewatch@example.org"),
        reply_to=get(t, "mail", "reply_to", str, None),
        unassigned_to=addresses(t, "unassigned_to"),
        organization=get(t, "mail", "organization", str, "the organization"),
        escalation_to=addresses(t, "escalation_to"),
        max_people_in_email=_max_people(t),
        language=_language(t),
        options=options,
        **cycle_options(t),
    )


@dataclass(frozen=True)
class Draft:
    """What the loader read of a config file, problems included (see :func:`draft_settings`).

    ``sources`` and ``files`` (rate_card, focal_points, exemptions) hold the
    parts that had no problem, so that ``check-config`` checks their files too;
    ``settings`` is None when ``errors`` is not empty; ``mail`` when ``[mail]`` had one.
    """

    config_path: Path
    sources: Mapping[str, SourceSettings]
    files: Mapping[str, Path | None]
    settings: Settings | None
    mail: MailSettings | None = None
    errors: tuple[ConfigError, ...] = ()


def load_settings(path: str | Path) -> Settings:
    """Read and validate the config file at ``path``.

    Raises :class:`ConfigError` naming the file and the key that is wrong;
    with several problems, :class:`~licensewatch.config_keys.ConfigErrors`
    holding each. Files the config names are not read here (see
    ``licensewatch.config_check``).
    """
    draft = draft_settings(path)
    if draft.errors:
        raise draft.errors[0] if len(draft.errors) == 1 else ConfigErrors(draft.errors)
    assert draft.settings is not None
    return draft.settings


def draft_settings(path: str | Path) -> Draft:
    """Read the config file at ``path`` and check every table, keeping every problem.

    A file that is missing or not TOML raises ``ConfigError`` (nothing to check).
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
    draft = _settings(doc, config_path, c)
    named = [ConfigError(f"{config_path.name}: {e.message}", hint=e.hint) for e in c.errors]
    return replace(draft, errors=tuple(named))


def _horizon(finance: Mapping[str, Any]) -> int:
    """``[finance] renewal_horizon_days``: zero or more (default 120)."""
    days = get(finance, "finance", "renewal_horizon_days", int, 120)
    return non_negative("finance", "renewal_horizon_days", days)


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


def _settings(doc: Mapping[str, Any], config_path: Path, c: Collector) -> Draft:
    """The draft: every section is checked, each problem kept in ``c`` (then no settings)."""
    base = config_path.parent
    t = _tables(doc, c)
    none: dict[str, Any] = {}
    sources = {
        feed: found
        for feed in (FEEDS if "sources" in t else ())
        if (found := c.run(partial(_source, t["sources"], feed, base), None)) is not None
    }
    paths = {
        name: c.run(partial(path_of, t.get(name, none), name, base, required=required), None)
        for name, required in (("rate_card", True), ("focal_points", True), ("exemptions", False))
        if name in t or not required
    }
    url = c.run(partial(database_url, t.get("database", none), base), "")
    policy = _policy(t.get("policy", none), c)
    mail = c.run(partial(_mail, t.get("mail", none), base), None)
    reports = t.get("reports", none)
    reports_dir = c.run(partial(get, reports, "reports", "dir", str, "reports"), "")
    templates = t.get("templates", none)
    templates_dir = c.run(partial(get, templates, "templates", "dir", str, None), None)
    pools: dict[str, str] = c.run(partial(device_pools, t.get("routing", none)), {})
    deprovision = t.get("deprovision", none)
    graph = c.run(partial(get, deprovision, "deprovision", "graph", bool, False), False)
    groups = c.run(partial(get, deprovision, "deprovision", "groups", bool, False), False)
    finance = t.get("finance", none)
    horizon = c.run(partial(_horizon, finance), 120)
    no_one: tuple[str, ...] = ()
    notify_to = c.run(partial(addresses, finance, "notify_to", "finance"), no_one)
    modes = c.run(partial(file_modes, reports), FileModes())
    kept = c.run(partial(retention, {"retention": t.get("retention", none)}), Retention())
    answers = (
        c.run(partial(answers_options, t["answers"], base), None) if "answers" in doc else None
    )
    rate_card, focal_points = paths.get("rate_card"), paths.get("focal_points")
    if c.errors or rate_card is None or focal_points is None or mail is None:
        return Draft(config_path, sources, paths, None, mail)
    settings = Settings(
        config_path=config_path,
        database_url=url,
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
        deprovision_groups=bool(groups),
        renewal_horizon_days=horizon,
        finance_notify_to=notify_to,
        file_modes=modes,
        retention=kept,
        answers=answers,
    )
    return Draft(config_path, sources, paths, settings, mail)
