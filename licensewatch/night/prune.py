"""Retention as a whole: old findings rows and email bodies in the store, old report folders.

:func:`prune` is what the nightly run does after its commit and ``licensewatch
db prune`` does on demand, both under the run lock; :func:`describe` says
what it deleted (or, with ``dry_run``, would delete) in rows per table,
folders and bytes.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from licensewatch import store
from licensewatch.config import Settings
from licensewatch.night.context import DRY_RUN_DIR
from licensewatch.store.prune import PrunedRows, history_day, prune_rows


@dataclass(frozen=True)
class Pruned:
    """What retention deleted (or would delete)."""

    rows: PrunedRows
    folders: tuple[Path, ...]
    folder_bytes: int
    dry_run: bool
    #: The newest as-of day recorded, which the ages count back from (None: no runs yet).
    today: date | None = None


def old_report_folders(reports_dir: Path, before: date, keep: date | None) -> list[Path]:
    """``reports/<as_of>/`` and ``reports/dry-run/<as_of>/`` of days before ``before``.

    The folder of ``keep`` (the last good run's day) stays whatever its age;
    anything that is not a folder named by a date is left alone.
    """
    found = []
    for base in (reports_dir, reports_dir / DRY_RUN_DIR):
        if not base.is_dir():
            continue
        for path in sorted(base.iterdir()):
            try:
                day = date.fromisoformat(path.name)
            except ValueError:
                continue
            if path.is_dir() and day < before and not (base == reports_dir and day == keep):
                found.append(path)
    return found


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def prune(engine: Engine, settings: Settings, *, now: datetime, dry_run: bool) -> Pruned:
    """Apply ``[retention]``: the store's part in one transaction, then the folders.

    Ages count back from the newest as-of day recorded, not from the clock
    (``now`` only dates the pruning). The caller holds the run lock.
    """
    with Session(engine) as session:
        today = history_day(session)
        if today is None:
            return Pruned(PrunedRows(0, 0, 0, 0), (), 0, dry_run)
        rows = prune_rows(session, settings.retention, today=today, now=now, dry_run=dry_run)
        last = store.last_good_run(session)
        if dry_run:
            session.rollback()
        else:
            with store.storage_errors("prune the history", engine.url):
                session.commit()
    before = today - timedelta(days=settings.retention.reports_days)
    folders = old_report_folders(settings.reports_dir, before, None if last is None else last.as_of)
    size = sum(_size(folder) for folder in folders)
    if not dry_run:
        for folder in folders:
            shutil.rmtree(folder)
    return Pruned(rows, tuple(folders), size, dry_run, today)


def describe(pruned: Pruned) -> str:
    """One line: rows per table, folders and bytes deleted (or that would be)."""
    rows, verb = pruned.rows, "would delete" if pruned.dry_run else "deleted"
    day = f" (ages counted from {pruned.today.isoformat()})" if pruned.today else ""
    return (
        f"retention{day} {verb}: findings {rows.findings_rows:,} rows "
        f"(of {rows.runs_pruned:,} runs; their totals stay), "
        f"outbox {rows.outbox_bodies:,} email bodies "
        f"({rows.outbox_bytes:,} bytes; the rows stay), report folders {len(pruned.folders):,} "
        f"({pruned.folder_bytes:,} bytes)"
    )
