"""``licensewatch db upgrade``: database maintenance."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from licensewatch.cli.table import Command, Group
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


def _upgrade(args: argparse.Namespace) -> int:
    return db_upgrade(args.config)


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
            ),
        ),
        config=False,
    ),
)
