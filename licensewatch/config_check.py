"""``check-config``: every problem of the config and of every file it names, in one pass.

:func:`check_all` reads the config (every table checked, every problem kept:
``licensewatch.config.draft_settings``), builds each feed's adapter (its
options) and checks it (a local file is read in full, a live source loads its
secret or certificate without connecting), reads the rate card, focal points
and exemptions, builds the mail transport (options and secrets, no
connection), then runs the checks registered in :data:`CHECKS`. Each step is
independent of the others' problems, so one pass lists them all, each as one
line naming the config key (``[sources.separations] path = "hr.csv": no such
file``) or the file, row and column.

Adding a check: write a function that takes a :class:`Loaded` and returns the
problems it finds as strings (one line each, naming the config key, or the
file, row and column), and append it to :data:`CHECKS` (in this module, or
``CHECKS.append(check)`` from the module that owns the rule). It runs only when
the config itself loaded; a reference frame is absent from ``Loaded.reference``
when that file had problems (they are already reported), so skip what needs
it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import TypeVar

import pandas as pd

from licensewatch.answers.mailbox import imap_options
from licensewatch.answers.mailbox import options as answers_options
from licensewatch.config import TABLE_KEYS, Draft, Settings, SourceSettings, draft_settings
from licensewatch.config_keys import ConfigErrors
from licensewatch.errors import InputError, LicensewatchError
from licensewatch.logs import redact
from licensewatch.night.inputs import REFERENCE_FILES, read_reference_file
from licensewatch.notify.routing_check import RoutingCheck, check_routing
from licensewatch.notify.transports import graph as graph_transport
from licensewatch.notify.transports import mail_transport, smtp_options
from licensewatch.sources import (
    ACCOUNTS_KINDS,
    PHONES_KINDS,
    SEPARATIONS_KINDS,
    accounts_source,
    phones_source,
    separations_source,
)
from licensewatch.sources.cucm.clusters import CLUSTER_EXTRA
from licensewatch.sources.cucm.multi import CLUSTER_KEYS

T = TypeVar("T")


@dataclass(frozen=True)
class Issue:
    """One problem: what is wrong and where (``text``) and, where it helps, how to fix it."""

    text: str
    hint: str | None = None

    def __str__(self) -> str:
        return redact(f"{self.text} ({self.hint})" if self.hint else self.text)


@dataclass(frozen=True)
class Loaded:
    """What a registered check sees: the settings and the reference files that read cleanly.

    ``reference`` maps ``rate_card``, ``focal_points`` and ``exemptions`` to
    their frames as ``licensewatch.sources.reference`` reads them.
    """

    settings: Settings
    reference: Mapping[str, pd.DataFrame] = field(default_factory=dict)


Check = Callable[[Loaded], Iterable[str]]


def _answers_reach_the_mailbox(loaded: Loaded) -> list[str]:
    """The answers mailbox: its secrets are set, and the emails' Reply-To (or From) is it."""
    import os

    from licensewatch.answers.mailbox.imap import read_password
    from licensewatch.answers.signature import read_key

    mail, answers = loaded.settings.mail, loaded.settings.answers
    problems = answers_options.reply_to_problems(answers, mail.reply_to, mail.sender)
    if answers is None:
        return problems
    reads: list[Callable[[], object]] = [partial(read_key, answers.signing_key_env, os.environ)]
    if answers.imap is not None:
        reads.append(partial(read_password, answers.imap, os.environ))
    for read in reads:
        try:
            read()
        except LicensewatchError as exc:
            problems.append(exc.one_line())
    return problems


def known_departments(settings: Settings) -> list[object]:
    """The departments of the last good run's findings (one per finding) and the device pools'.

    check-config pulls nothing: before the first run only the device pools'
    departments are known (a run checks its own findings again).
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.orm import Session

    from licensewatch import store

    found: list[object] = list(settings.device_pool_departments.values())
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return found
    engine = store.open_engine(settings.database_url)
    try:
        if store.schema_revision(engine) != store.head_revision():
            return found
        with Session(engine) as session:
            last = store.last_good_run(session)
            if last is not None:
                found += store.findings_of_run(session, last.id)["department"].tolist()
    finally:
        engine.dispose()
    return found


def routing(loaded: Loaded) -> RoutingCheck | None:
    """Who gets what: missing recipients (errors) and departments without a focal point."""
    if "focal_points" not in loaded.reference:
        return None
    return check_routing(
        loaded.settings, loaded.reference["focal_points"], known_departments(loaded.settings)
    )


#: Further checks, run after the built-in ones (see the module docstring).
CHECKS: list[Check] = [_answers_reach_the_mailbox]


@dataclass(frozen=True)
class Report:
    """The outcome of :func:`check_all`: every issue, and the settings when the config loaded."""

    config_path: Path
    issues: tuple[Issue, ...]
    settings: Settings | None
    reference: Mapping[str, pd.DataFrame]
    #: Who gets what, when the config and the focal points loaded (its errors are issues).
    routing: RoutingCheck | None = None


def issues_of(exc: LicensewatchError) -> list[Issue]:
    """The issues one error stands for (each problem of a file; each error of a config)."""
    if isinstance(exc, ConfigErrors):
        return [Issue(e.message, e.hint) for e in exc.errors]
    if isinstance(exc, InputError):
        problems = [Issue(str(p)) for p in exc.problems]
        problems[-1] = Issue(problems[-1].text, exc.hint)
        return problems
    return [Issue(exc.message, exc.hint)]


class _Issues:
    """Runs independent checks and keeps what each raised."""

    def __init__(self) -> None:
        self.found: list[Issue] = []

    def run(self, part: Callable[[], T]) -> T | None:
        try:
            return part()
        except LicensewatchError as exc:
            self.found.extend(issues_of(exc))
            return None


_BUILDERS: Mapping[str, Callable[[SourceSettings], object]] = {
    "accounts": accounts_source,
    "phones": phones_source,
    "separations": separations_source,
}


def _check_source(settings: SourceSettings) -> None:
    source = _BUILDERS[settings.feed](settings)
    check = getattr(source, "check", None)
    if callable(check):
        check()


def _read_files(draft: Draft, today: date, issues: _Issues) -> dict[str, pd.DataFrame]:
    """Read each reference file the config names (an ``[exemptions]``-less config has none)."""
    frames: dict[str, pd.DataFrame] = {}
    for name in REFERENCE_FILES:
        if name not in draft.files:
            continue  # its table had a problem, already reported
        base, path = draft.config_path.parent, draft.files[name]
        frame = issues.run(partial(read_reference_file, base, name, path, today))
        if frame is not None:
            frames[name] = frame
    return frames


def _run_check(check: Check, loaded: Loaded) -> list[str]:
    return [str(text) for text in check(loaded)]


def check_all(config: Path, today: date) -> Report:
    """Check the config at ``config`` and every file it names; writes nothing, connects nowhere.

    ``today`` bounds the exemptions' expiry dates as in a run. A config file
    that is missing or not TOML raises ``ConfigError`` (nothing else to check).
    """
    draft = draft_settings(config)
    issues = _Issues()
    issues.found.extend(Issue(e.message, e.hint) for e in draft.errors)
    for source_settings in draft.sources.values():
        issues.run(partial(_check_source, source_settings))
    reference = _read_files(draft, today, issues)
    mail, settings = draft.mail, draft.settings
    if mail is not None:
        base = draft.config_path.parent
        issues.run(lambda: mail_transport(mail, draft.sources, base).close())
    routed = None
    if settings is not None:
        loaded = Loaded(settings, reference)
        for check in CHECKS:
            found = issues.run(partial(_run_check, check, loaded))
            issues.found.extend(Issue(text) for text in found or ())
        # Read once (the last good run's findings): its errors fail, check-config shows the rest.
        routed = issues.run(partial(routing, loaded))
        issues.found.extend(Issue(text) for text in (routed.errors if routed else ()))
    return Report(draft.config_path, tuple(issues.found), settings, reference, routed)


def accepted_keys() -> dict[tuple[str, str | None], tuple[str, ...] | None]:
    """Every key the loader, the source adapters and the transports accept, per table.

    Keyed by (table, kind): ``("policy", None)``, ``("sources.accounts",
    "graph")``, ``("mail.smtp", None)``; the value is the table's keys, or None
    for a table whose keys are the organization's own names (device pools,
    renamed headers). Taken from the loader's and the adapters' own tables, so
    a key added without documenting it in the example config fails a test.
    """
    out: dict[tuple[str, str | None], tuple[str, ...] | None] = {
        (name, None): keys for name, keys in TABLE_KEYS.items()
    }
    out[("", None)] = tuple(TABLE_KEYS)
    out[("routing.device_pools", None)] = None
    out[("mail.smtp", None)] = tuple(smtp_options.OPTIONS)
    out[("mail.graph", None)] = graph_transport.OWN_KEYS + graph_transport.CREDENTIAL_KEYS
    out[("answers.imap", None)] = tuple(imap_options.OPTIONS)
    out[("answers.graph", None)] = tuple(answers_options.GRAPH_OPTIONS)
    kinds: Mapping[str, Mapping[str, object]] = {
        "accounts": ACCOUNTS_KINDS,
        "phones": PHONES_KINDS,
        "separations": SEPARATIONS_KINDS,
    }
    for feed, table in kinds.items():
        for kind, adapter in table.items():
            keys: tuple[str, ...] = adapter.KEYS  # type: ignore[attr-defined]
            out[(f"sources.{feed}", kind)] = ("kind", *keys)
            if "columns" in keys:
                out[(f"sources.{feed}.columns", kind)] = None
    # Several call-manager clusters: each [sources.phones.clusters.<name>] table.
    out[("sources.phones", "cucm")] = (*(out[("sources.phones", "cucm")] or ()), "clusters")
    out[("sources.phones.clusters", "cucm")] = None
    out[("sources.phones.clusters.*", "cucm")] = (*CLUSTER_KEYS, *CLUSTER_EXTRA)
    out[("sources.phones.clusters.*.device_pools", "cucm")] = None
    out[("sources.phones.clusters", "cucm-export")] = None
    out[("sources.phones.clusters.*", "cucm-export")] = ("device_pools",)
    out[("sources.phones.clusters.*.device_pools", "cucm-export")] = None
    return out
