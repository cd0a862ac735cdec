"""``licensewatch db upgrade`` and ``db prune``: database maintenance."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TextIO

from licensewatch.cli.table import Command, Group, arg, utc_now
from licensewatch.config import load_settings
from licensewatch.errors import EXIT_OK


def db_upgrade(config: Path, out: TextIO | None = None) -> int:
    """``licensewatch db upgrade``: bring the database to the newest schema."""
    from licensewatch import store

    out = out or sys.stdout
    settings = load_settings(config)
    engine = store.open_engine(settings.database_url)
    try:
        before = store.schema_revision(engine)
        store.upgrade(engine)
        after = store.schema_revision(engine)
    finally:
        engine.dispose()
    where = store.safe_url(settings.database_url)
    if before == after:
        print(f"{where}: already at the newest schema ({after})", file=out)
    else:
        print(f"{where}: upgraded from {before or 'empty'} to {after}", file=out)
    return EXIT_OK


def db_prune(
    config: Path,
    *,
    dry_run: bool,
    out: TextIO | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> int:
    """``licensewatch db prune``: apply ``[retention]`` now, under the run lock."""
    from licensewatch import store
    from licensewatch.night.prune import describe, prune

    out = out or sys.stdout
    settings = load_settings(config)
    engine = store.open_engine(settings.database_url)
    now = clock()
    try:
        with store.run_lock(engine):
            store.upgrade(engine)
            pruned = prune(engine, settings, now=now, dry_run=dry_run)
    finally:
        engine.dispose()
    r = settings.retention
    print(
        f"{store.safe_url(settings.database_url)}: keeping findings {r.findings_days} days, "
        f"email bodies {r.outbox_days} days, report folders {r.reports_days} days",
        file=out,
    )
    print(describe(pruned), file=out)
    for folder in pruned.folders:
        print(f"  {folder}", file=out)
    return EXIT_OK


def _upgrade(args: argparse.Namespace) -> int:
    return db_upgrade(args.config)


def _prune(args: argparse.Namespace) -> int:
    return db_prune(args.config, dry_run=args.dry_run)


COMMANDS = (
    Command(
        "db",
        "database maintenance",
        group=Group(
            "db_command",
            "ACTION",
            "what to do",
            (
                Command(
                    "upgrade",
                    "apply the schema migrations (runs also do this before they write)",
                    handler=_upgrade,
                ),
                Command(
                    "prune",
                    "apply [retention] now (the nightly run does it too): delete old findings "
                    "rows, email bodies and report folders, under the run lock",
                    (
                        arg(
                            "--dry-run",
                            action="store_true",
                            help="print what would be deleted, delete nothing",
                        ),
                    ),
                    handler=_prune,
                ),
            ),
        ),
        config=False,
    ),
)
