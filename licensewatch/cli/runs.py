"""``licensewatch runs`` and ``runs show RUN``: the run history from the command line.

Both read the database only (never create or upgrade it) and take no lock: a
nightly run in progress shows as ``running``. What they print comes from the
``runs`` rows (counts, totals, the summary with the brake reasons, kept for
ever) and the outbox rows of the run's emails (kept after their bodies are
pruned), not from the report folders, which retention deletes.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from licensewatch.cli.table import Command, arg, positive
from licensewatch.config import load_settings
from licensewatch.errors import EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from licensewatch.store.outbox_table import OutboxEntry
    from licensewatch.store.run_log import RunLine

FORMATS = ("text", "json")
_HEADER = (
    "id",
    "run key",
    "as of",
    "status",
    "started (UTC)",
    "took",
    "accounts",
    "phones",
    "findings",
    "annual USD",
    "emails",
)
#: Columns of numbers, aligned on the right.
_RIGHT = frozenset({0, 5, 6, 7, 8, 9})
#: The counts ``runs show`` prints as text (``--format json`` has them all).
_SHOWN_COUNTS = (
    "accounts_read",
    "licenses_read",
    "phones_read",
    "separations_read",
    "new_findings",
    "exempted_findings",
)


def runs_list(config: Path, *, limit: int, fmt: str, out: TextIO | None = None) -> int:
    """``licensewatch runs``: the last ``limit`` runs, newest first."""
    from sqlalchemy.orm import Session

    from licensewatch.cli.reports import open_history
    from licensewatch.store.run_log import recent_runs

    out = out or sys.stdout
    engine = open_history(load_settings(config))
    try:
        with Session(engine) as session:
            lines = recent_runs(session, limit)
    finally:
        engine.dispose()
    if fmt == "json":
        print(json.dumps([_line_doc(line) for line in lines], indent=2), file=out)
        return EXIT_OK
    rows = [_HEADER, *(_line_row(line) for line in lines)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    for row in rows:
        cells = [
            cell.rjust(width) if i in _RIGHT else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip(), file=out)
    if not lines:
        print("(no runs recorded yet)", file=out)
    return EXIT_OK


def runs_show(config: Path, which: str, *, fmt: str, out: TextIO | None = None) -> int:
    """``licensewatch runs show RUN``: one run's summary, brake reasons and emails."""
    from sqlalchemy.orm import Session

    from licensewatch.cli.reports import ReportError, open_history
    from licensewatch.store.run_log import find_run, run_messages

    out = out or sys.stdout
    engine = open_history(load_settings(config))
    try:
        with Session(engine) as session:
            line = find_run(session, which)
            messages = [] if line is None else run_messages(session, line.run.id)
    finally:
        engine.dispose()
    if line is None:
        raise ReportError(
            f"no run {which!r} in the database",
            hint="name a run by its id, its run key or its as-of day: see licensewatch runs",
        )
    doc = {**_line_doc(line), "emails": [_message_doc(m) for m in messages]}
    if fmt == "json":
        print(json.dumps(doc, indent=2), file=out)
    else:
        _print_show(doc, out)
    return EXIT_OK


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _took(value: timedelta | None) -> str:
    if value is None:
        return ""
    seconds = value.total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _usd(cents: int) -> str:
    return f"{cents / 100:,.2f}" if cents % 100 else f"{cents // 100:,}.00"


def _line_doc(line: RunLine) -> dict[str, Any]:
    run, summary = line.run, dict(line.run.summary or {})
    took = line.duration
    return {
        "id": run.id,
        "run_key": run.run_key,
        "as_of": run.as_of.isoformat(),
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": None if run.finished_at is None else run.finished_at.isoformat(),
        "duration_s": None if took is None else round(took.total_seconds(), 3),
        "counts": dict(sorted(run.counts.items())),
        "findings": run.findings_count,
        "annual_avoidable_cents": run.annual_avoidable_cents,
        "accrued_avoidable_cents": run.accrued_avoidable_cents,
        "emails_queued": line.emails,
        "emails_delivered": line.delivered,
        "emails_by_status": dict(line.by_status),
        "brake_reasons": list(summary.get("brake_reasons", [])),  # type: ignore[call-overload]
        "summary": summary,
    }


def _line_row(line: RunLine) -> tuple[str, ...]:
    run = line.run
    emails = f"{line.emails} queued, {line.delivered} delivered" if line.emails else "none"
    return (
        str(run.id),
        run.run_key,
        run.as_of.isoformat(),
        run.status,
        run.started_at.strftime("%Y-%m-%d %H:%M"),
        _took(line.duration),
        f"{run.counts.get('accounts_read', 0):,}",
        f"{run.counts.get('phones_read', 0):,}",
        f"{run.findings_count:,}",
        _usd(run.annual_avoidable_cents),
        emails,
    )


def _message_doc(m: OutboxEntry) -> dict[str, Any]:
    return {
        "key": m.key,
        "kind": m.kind,
        "department": m.department,
        "recipients": m.recipients,
        "status": m.status,
        "attempts": m.attempts,
        "sent_at": None if m.sent_at is None else m.sent_at.isoformat(),
        "delivered_at": None if m.delivered_at is None else m.delivered_at.isoformat(),
        "recipient_status": dict(m.recipient_status),
        "last_error": m.last_error,
        "transport": m.transport,
        "items": len(m.resource_ids),
    }


def _print_show(doc: dict[str, Any], out: TextIO) -> None:
    from licensewatch.logs import redact

    took = "" if doc["duration_s"] is None else f" ({doc['duration_s']:.1f} s)"
    print(f"run {doc['id']} ({doc['run_key']}) as of {doc['as_of']}: {doc['status']}", file=out)
    print(f"  started   {doc['started_at']}", file=out)
    print(f"  recorded  {doc['finished_at'] or 'not yet (running)'}{took}", file=out)
    print(
        f"  findings  {doc['findings']:,}; USD {_usd(doc['annual_avoidable_cents'])} a year "
        f"avoidable, USD {_usd(doc['accrued_avoidable_cents'])} accrued",
        file=out,
    )
    counts = doc["counts"]
    shown = [k for k in _SHOWN_COUNTS if k in counts]
    shown += [k for k in counts if k.startswith("reason.") and counts[k]]
    line = ", ".join(f"{k.removeprefix('reason.')} {counts[k]:,}" for k in shown)
    print(f"  counts    {line or 'none'} (--format json: all)", file=out)
    reasons = doc["brake_reasons"]
    print(f"  brake     {'; '.join(reasons) if reasons else 'did not trip'}", file=out)
    for kind in doc["summary"].get("warnings_by_kind", []):
        where = f"{kind['table']}: " if kind["table"] else ""
        print(f"  warning   {where}{kind['count']:,} {kind['kind']}", file=out)
    emails = doc["emails"]
    print(f"  emails    {len(emails)} queued by this run", file=out)
    for m in emails:
        when = f"delivered {m['delivered_at'][:19]}" if m["delivered_at"] else m["status"]
        print(
            f"    {m['status']:<8} {m['kind']:<10} {m['department']} → {m['recipients']}  "
            f"({m['items']} items, {m['attempts']} attempts, {when})",
            file=out,
        )
        for address, outcome in m["recipient_status"].items():
            if outcome != "accepted":
                print(f"             {address}: {redact(outcome)}", file=out)
        if m["last_error"]:
            print(f"             last error: {redact(m['last_error'])}", file=out)


def _runs(args: argparse.Namespace) -> int:
    if args.action == "show":
        if args.run is None:
            print(
                "licensewatch: error: runs show needs the run: its id, run key or as-of day",
                file=sys.stderr,
            )
            return EXIT_USAGE
        return runs_show(args.config, args.run, fmt=args.fmt)
    return runs_list(args.config, limit=args.limit, fmt=args.fmt)


COMMANDS = (
    Command(
        "runs",
        "the run history: the last runs (as-of, status, counts, totals, emails, duration), "
        "or show RUN: one run's summary, brake reasons and the delivery of its emails",
        (
            arg(
                "action",
                nargs="?",
                choices=["list", "show"],
                default="list",
                help="list (default) or show RUN",
            ),
            arg("run", nargs="?", help="for show: the run's id, run key or as-of day (YYYY-MM-DD)"),
            arg("--limit", type=positive, default=20, help="list at most this many (default 20)"),
            arg(
                "--format",
                dest="fmt",
                choices=list(FORMATS),
                default="text",
                help="text (default) or json",
            ),
        ),
        handler=_runs,
    ),
)
