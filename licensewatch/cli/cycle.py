"""The notification-cycle commands: ``outbox``, ``decisions import``, ``deprovision``.

Each takes the run lock, so none of them races a nightly run against the same
database (a second one waits for nothing: it exits with ``RunInProgress``).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from licensewatch.cli import answers
from licensewatch.cli.table import Command, Group, arg, as_of_date, positive, utc_now
from licensewatch.config import Settings, load_settings
from licensewatch.errors import EXIT_OK, EXIT_RUNTIME, ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from licensewatch.answers.group_removal import GraphGroupRemover, GroupResult
    from licensewatch.answers.licence_removal import (
        GraphLicenseRemover,
        LicenseRemoval,
        RemovalResult,
    )

# The heavy libraries (pandas, SQLAlchemy, the notify stack) are imported inside
# the commands, so that ``licensewatch --help`` does not pay for them.


@contextmanager
def locked(settings: Settings) -> Iterator[Engine]:
    """The database, migrated and held under the run lock, for one command."""
    from licensewatch import store

    engine = store.open_engine(settings.database_url)
    try:
        with store.run_lock(engine):
            store.upgrade(engine)
            yield engine
    finally:
        engine.dispose()


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M")


def outbox_list(config: Path, *, status: str | None, limit: int, out: TextIO | None = None) -> int:
    """``licensewatch outbox``: the messages, newest first, and how many in each status."""
    from sqlalchemy.orm import Session

    from licensewatch.logs import redact
    from licensewatch.store import outbox

    out = out or sys.stdout
    settings = load_settings(config)
    with locked(settings) as engine, Session(engine) as session:
        counts = outbox.counts(session)
        rows = outbox.entries(session, statuses=[status] if status else (), limit=limit)
    print("outbox: " + ", ".join(f"{n} {s}" for s, n in counts.items()), file=out)
    for e in rows:
        when = {
            "sent": f"sent {_when(e.sent_at)}",
            "failed": f"retry after {_when(e.next_attempt_at)}",
            "sending": f"interrupted {_when(e.last_attempt_at)}",
            "partial": f"copies retried after {_when(e.next_attempt_at)}",
            "unknown": f"no answer; resent after {_when(e.next_attempt_at)} if not delivered",
        }.get(e.status, f"queued {_when(e.created_at)}")
        print(
            f"  {e.status:<8} {e.kind:<10} {e.as_of.isoformat()}  {e.department}  → "
            f"{e.recipients}  ({len(e.resource_ids)} items, {e.attempts} attempts, {when})",
            file=out,
        )
        if e.last_error:  # a sent email keeps the copies refused for good
            print(f"           last error: {redact(e.last_error)}", file=out)
    return EXIT_OK


def outbox_send(
    config: Path, *, out: TextIO | None = None, clock: Callable[[], datetime] = utc_now
) -> int:
    """``licensewatch outbox send``: send what is due now (pending, interrupted, retries due)."""
    from licensewatch.notify.delivery import deliver, undelivered_error
    from licensewatch.notify.transports import build_transport

    out = out or sys.stdout
    settings = load_settings(config)
    transport = build_transport(settings)
    with locked(settings) as engine:
        delivery = deliver(engine, transport, name=settings.mail.transport, clock=clock)
    print(
        f"outbox: {delivery.sent} sent, {delivery.failed} failed (retried later), "
        f"{delivery.left} left for the next run"
        + (f", {delivery.unknown} of unknown outcome" if delivery.unknown else ""),
        file=out,
    )
    if delivery.complete:
        return EXIT_OK
    print(undelivered_error("outbox:", delivery).one_line(), file=sys.stderr)
    return EXIT_RUNTIME


def decisions_import(
    config: Path,
    path: Path,
    *,
    department: str,
    as_of: date,
    date_format: str,
    out: TextIO | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> int:
    """``licensewatch decisions import``: record a focal point's returned decisions.

    Every row is checked first; one bad row means nothing is recorded (exit 2).
    """
    from sqlalchemy.orm import Session

    from licensewatch.answers.answer_file import read_decisions
    from licensewatch.night.steps import operator
    from licensewatch.store.decisions import record_decisions, recorded_file
    from licensewatch.store.state import decidable_findings

    out = out or sys.stdout
    settings = load_settings(config)
    with locked(settings) as engine, Session(engine) as session:
        known = decidable_findings(session)
        # The one-year cap on keep_until counts from today, whatever --as-of says.
        decisions = read_decisions(
            path,
            department=department,
            known=known,
            as_of=as_of,
            today=clock().astimezone(UTC).date(),
            date_format=date_format,
        )
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        earlier = recorded_file(session, digest, department)
        if earlier is not None:
            print(
                f"{path.name}: this file was already recorded for {department} on "
                f"{earlier:%Y-%m-%d %H:%M} UTC; nothing recorded again",
                file=out,
            )
            return EXIT_OK
        who = operator()
        recorded = record_decisions(
            session,
            decisions,
            decided_at=clock(),
            source_file=path.name,
            imported_by=who,
            decided_by=f"operator ({who})",
            source="operator",
            file_digest=digest,
        )
        session.commit()
    removing = int((decisions["decision"] == "remove").sum())
    keeping = decisions[decisions["decision"] == "keep"]
    print(
        f"{path.name}: {recorded} decisions recorded for {department}: {removing} to remove "
        f"(see licensewatch deprovision), {len(keeping)} kept"
        + (
            f" (until {keeping['keep_until'].max():%Y-%m-%d} at the latest)" if len(keeping) else ""
        ),
        file=out,
    )
    return EXIT_OK


def deprovision(
    config: Path,
    *,
    apply: bool,
    out_path: Path | None,
    out: TextIO | None = None,
    clock: Callable[[], datetime] = utc_now,
    environ: dict[str, str] | None = None,
) -> int:
    """``licensewatch deprovision``: write the approved list; ``--apply`` removes the licences."""
    from sqlalchemy.orm import Session

    from licensewatch import model
    from licensewatch.answers.deprovision import INTERNAL, approved
    from licensewatch.notify.wording import usd
    from licensewatch.reports.csvsafe import write_csv

    out = out or sys.stdout
    settings = load_settings(config)
    remover = _remover(settings, environ) if apply else None
    groups = _group_remover(settings, environ) if apply and settings.deprovision_groups else None
    with locked(settings) as engine, Session(engine) as session:
        todo, results, left = _apply(session, remover, groups, clock)
        listed = approved(session)
    path = out_path or settings.reports_dir / f"deprovision_{clock():%Y-%m-%d}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_csv(listed.drop(columns=list(INTERNAL)), path)
    settings.file_modes.apply(path)
    licences = int((listed["resource_kind"] == model.ResourceKind.LICENSE.value).sum())
    total = int(listed["annual_cost_cents"].sum()) if len(listed) else 0
    print(
        f"approved for removal: {licences} licences, {len(listed) - licences} phones, "
        f"USD {usd(total)} a year; list for the service desk: {path}",
        file=out,
    )
    desk = int(listed["group_step"].str.startswith("service desk").sum()) if len(listed) else 0
    if desk:
        print(f"  {desk} licences need a group removal by the service desk (group_step)", file=out)
    if remover is None:
        print(
            f"  {sum(len(r.sku_ids) for r in todo)} licences still to remove"
            + (" (dry run: add --apply to remove them through Graph)" if todo else ""),
            file=out,
        )
        return EXIT_OK
    ok = sum(r.ok for r in results)
    print(f"  Graph: {ok} licences removed, {len(results) - ok} refused (see the list)", file=out)
    if groups is not None:
        done = sum(r.ok for r in left)
        print(f"  Graph: {done} group memberships removed, {len(left) - done} refused", file=out)
    failed = len(results) - ok + sum(not r.ok for r in left)
    return EXIT_OK if failed == 0 else EXIT_RUNTIME


def _apply(
    session: Session,
    remover: GraphLicenseRemover | None,
    groups: GraphGroupRemover | None,
    clock: Callable[[], datetime],
) -> tuple[list[LicenseRemoval], list[RemovalResult], list[GroupResult]]:
    """Remove the approved direct licences, then leave the licensing groups (when allowed)."""
    from licensewatch.answers import deprovision as dep
    from licensewatch.night.steps import operator

    todo = dep.pending_licences(dep.approved(session))
    results: list[RemovalResult] = []
    left: list[GroupResult] = []
    try:
        if remover is not None and todo:
            results = dep.apply_removals(session, todo, remover, clock=clock, operator=operator())
        if groups is not None:
            pending = dep.pending_groups(session, dep.approved(session))
            left = dep.apply_group_removals(
                session, pending, groups, clock=clock, operator=operator()
            )
    finally:
        for closing in (remover, groups):
            if closing is not None:
                closing.close()
    return todo, results, left


def _group_remover(settings: Settings, environ: dict[str, str] | None) -> GraphGroupRemover:
    """The group remover of ``[deprovision] groups = true`` (same app registration)."""
    from licensewatch.answers.group_removal import GraphGroupRemover
    from licensewatch.graph.auth import load_credential
    from licensewatch.graph.client import LazyGraph
    from licensewatch.graph.options import GraphOptions

    options = GraphOptions.from_settings(settings.sources["accounts"])
    return GraphGroupRemover(
        LazyGraph(options, load_credential(options, environ)), options.graph_url
    )


def _remover(settings: Settings, environ: dict[str, str] | None) -> GraphLicenseRemover:
    from licensewatch.answers.licence_removal import GraphLicenseRemover
    from licensewatch.graph.options import GraphOptions

    if not settings.deprovision_graph:
        raise ConfigError(
            "--apply removes licences through Graph, which the config does not allow",
            hint="set graph = true in [deprovision], or hand the list to the service desk",
        )
    accounts = settings.sources["accounts"]
    if accounts.kind != "graph":
        raise ConfigError(
            "[deprovision] graph = true needs [sources.accounts] of kind 'graph' "
            "(its app registration signs in)",
            hint="configure the live Graph source, or hand the list to the service desk",
        )
    return GraphLicenseRemover(GraphOptions.from_settings(accounts), environ=environ)


def _outbox(args: argparse.Namespace) -> int:
    if args.action == "send":
        return outbox_send(args.config)
    return outbox_list(args.config, status=args.status, limit=args.limit)


def _decisions_import(args: argparse.Namespace) -> int:
    return decisions_import(
        args.config,
        args.file,
        department=args.department,
        as_of=args.as_of or datetime.now(UTC).date(),
        date_format=args.date_format,
    )


def _deprovision(args: argparse.Namespace) -> int:
    return deprovision(args.config, apply=args.apply, out_path=args.out)


_OUTBOX = Command(
    "outbox",
    "the email outbox: list pending, sent and failed messages, or send what is due",
    (
        arg(
            "action",
            nargs="?",
            choices=["list", "send"],
            default="list",
            help="list (default) or send: deliver pending messages and retries that are due now",
        ),
        arg(
            "--status",
            choices=["pending", "sending", "sent", "failed"],
            help="list only messages with this status",
        ),
        arg("--limit", type=positive, default=50, help="list at most this many (default 50)"),
    ),
    handler=_outbox,
)

_IMPORT = Command(
    "import",
    "record the decisions of a returned CSV after checking every row (nothing is "
    "recorded if one row is wrong)",
    (
        arg("file", type=Path, help="the CSV the focal point sent back"),
        arg("--department", required=True, help="the department whose focal point answered"),
        arg(
            "--as-of",
            type=as_of_date,
            help="the day keep_until is checked against, YYYY-MM-DD (default: today, UTC)",
        ),
        arg(
            "--date-format",
            choices=["iso", "day-first", "month-first"],
            default="iso",
            help="how keep_until dates are written (default iso: YYYY-MM-DD)",
        ),
    ),
    handler=_decisions_import,
)

_DEPROVISION = Command(
    "deprovision",
    "write the approved removal list for the service desk; --apply removes the "
    "licences through Graph",
    (
        arg(
            "--apply",
            action="store_true",
            help="remove the approved licences with Graph assignLicense (needs [deprovision] "
            "graph = true); without it nothing is changed",
        ),
        arg(
            "--out",
            type=Path,
            help="where to write the list (default: reports/deprovision_DATE.csv)",
        ),
    ),
    handler=_deprovision,
)

COMMANDS = (
    _OUTBOX,
    Command(
        "decisions",
        "focal points' answers (remove or keep)",
        group=Group("decisions_command", "ACTION", "what to do", (_IMPORT, answers.DECISIONS_LIST)),
        config=False,
    ),
    _DEPROVISION,
)
