"""The answer-loop commands: ``answers fetch`` and ``decisions list``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from licensewatch.cli.table import Command, Group, arg
from licensewatch.config import load_settings
from licensewatch.errors import EXIT_OK, EXIT_RUNTIME, ConfigError


def _now() -> datetime:
    return datetime.now(UTC)


def answers_fetch(
    config: Path,
    *,
    out: TextIO | None = None,
    clock: Callable[[], datetime] = _now,
    environ: dict[str, str] | None = None,
) -> int:
    """``licensewatch answers fetch``: read the answers mailbox now, then send the answers.

    Takes the run lock, like a run: replies are recorded one by one (each
    committed before it is filed), and the answers to them leave through the
    outbox. Exit 1 when an answer could not be delivered yet.
    """
    from licensewatch.answers.inbox import Loop, fetch_answers
    from licensewatch.answers.mailbox.opening import open_mailbox
    from licensewatch.answers.signature import read_key
    from licensewatch.cli.cycle import locked
    from licensewatch.night.steps import operator
    from licensewatch.notify.delivery import deliver, undelivered_error
    from licensewatch.notify.transports import build_transport
    from licensewatch.sources.reference import read_focal_points

    out = out or sys.stdout
    env = dict(os.environ) if environ is None else environ
    settings = load_settings(config)
    options = settings.answers
    if options is None:
        raise ConfigError(
            "the config has no [answers] table, so there is no mailbox to read",
            hint='add [answers] with kind = "imap" or "graph" '
            "(see config/licensewatch.example.toml)",
        )
    key = read_key(options.signing_key_env, env)
    focal_points = read_focal_points(settings.focal_points)
    transport = build_transport(settings)
    with locked(settings) as engine:
        loop = Loop(
            options=options,
            mail=settings.mail,
            focal_points=focal_points,
            key=key,
            as_of=clock().astimezone(UTC).date(),
            run_id=None,
            clock=clock,
            imported_by=operator(),
        )
        with open_mailbox(settings, options, env) as mailbox:
            summary = fetch_answers(engine, mailbox, loop)
        delivery = deliver(engine, transport, name=settings.mail.transport, clock=clock)
    print(summary.line(), file=out)
    print(f"answers sent: {delivery.sent}, left for later: {delivery.left}", file=out)
    if delivery.complete:
        return EXIT_OK
    print(undelivered_error("answers fetch:", delivery).one_line(), file=sys.stderr)
    return EXIT_RUNTIME


def decisions_list(
    config: Path, *, department: str | None, fmt: str, out: TextIO | None = None
) -> int:
    """``licensewatch decisions list``: the current decision of every resource that has one."""
    from sqlalchemy.orm import Session

    from licensewatch.cli.cycle import locked
    from licensewatch.reports.csvsafe import csv_text
    from licensewatch.store.decisions import decision_list

    out = out or sys.stdout
    settings = load_settings(config)
    with locked(settings) as engine, Session(engine) as session:
        table = decision_list(session, department)
    if fmt == "csv":
        out.write(csv_text(table))
        return EXIT_OK
    if table.empty:
        print("no decisions" + (f" for {department}" if department else ""), file=out)
        return EXIT_OK
    for r in table.itertuples(index=False):
        until = f" until {r.keep_until}" if isinstance(r.keep_until, str) else ""
        why = f" ({r.justification})" if isinstance(r.justification, str) else ""
        print(
            f"{r.department}  {r.subject}  {r.decision}{until}{why}  — {r.decided_by}, "
            f"{r.decided_at}, {r.source}  [{r.resource_id}]",
            file=out,
        )
    return EXIT_OK


def _answers(args: argparse.Namespace) -> int:
    return answers_fetch(args.config)


def _decisions_list(args: argparse.Namespace) -> int:
    return decisions_list(args.config, department=args.department, fmt=args.format)


DECISIONS_LIST = Command(
    "list",
    "the current decision of every resource: subject, department, decision, keep_until, "
    "justification, who decided, when, and how (mail, operator or rule)",
    (
        arg("--department", help="only this department's decisions"),
        arg("--format", choices=["text", "csv"], default="text", help="text (default) or csv"),
    ),
    handler=_decisions_list,
)

_FETCH = Command(
    "fetch",
    "read the answers mailbox now: record the focal points' replies, file them, send the answers",
    handler=_answers,
)

COMMANDS = (
    Command(
        "answers",
        "the answers mailbox: the focal points' replies",
        group=Group("answers_command", "ACTION", "what to do", (_FETCH,)),
        config=False,
    ),
)
