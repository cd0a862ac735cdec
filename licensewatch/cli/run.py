"""``licensewatch run`` (what cron calls) and ``licensewatch check-config``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from licensewatch.cli.table import Command, arg, as_of_date
from licensewatch.config import load_settings
from licensewatch.errors import EXIT_OK, EXIT_USAGE, SafetyBrake

if TYPE_CHECKING:
    from licensewatch.config_check import Issue
    from licensewatch.night.run import RunResult


def run(
    config: Path,
    as_of: date,
    *,
    dry_run: bool,
    override_brake: bool = False,
    strict: bool = False,
    out: TextIO | None = None,
) -> int:
    """``licensewatch run``: the nightly job."""
    from licensewatch.night import run as pipeline
    from licensewatch.notify.delivery import undelivered_error

    out = out or sys.stdout
    settings = load_settings(config)
    result = pipeline.run(
        settings, as_of, dry_run=dry_run, override_brake=override_brake, strict=strict
    )
    print_summary(result, out)
    if result.status == "braked":
        raise SafetyBrake(
            f"safety brake: nothing was sent ({'; '.join(result.brake_reasons)})",
            hint=f"see {result.reports_dir / 'BRAKED.txt'}; if the numbers are right, "
            "re-run with --override-brake",
        )
    delivery = result.delivery
    if delivery is not None and not delivery.complete:
        raise undelivered_error("the run is recorded, but", delivery)
    return EXIT_OK


def check_config(config: Path, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``licensewatch check-config``: every problem of the config and the files it names.

    Prints OK (and what it read) only when there is none; else every problem,
    one line each, on stderr, and returns 2. Writes nothing, connects nowhere.
    """
    from licensewatch.config_check import check_all

    out, err = out or sys.stdout, err or sys.stderr
    # Exemptions may run at most a year past today, as in a run (whatever its --as-of).
    report = check_all(config, datetime.now(UTC).date())
    settings, reference = report.settings, report.reference
    found = report.routing
    unrouted = found.unrouted if found is not None else []
    if report.issues:
        print_issues(report.config_path, report.issues, err)
        if found is not None and found.errors:
            # A routing problem: the departments with no focal point tell why (typos).
            for line in unrouted:
                print(f"  warning: {line}", file=err)
        return EXIT_USAGE
    assert settings is not None
    print(f"{settings.config_path}: OK", file=out)
    exemptions = len(reference["exemptions"]) if "exemptions" in reference else 0
    print(
        f"  rate card: {len(reference['rate_card'])} items; focal points: "
        f"{len(reference['focal_points'])} departments; exemptions: {exemptions}",
        file=out,
    )
    for feed, source_settings in settings.sources.items():
        print(f"  {feed}: {source_settings.kind}", file=out)
    for line in unrouted:
        print(f"  warning: {line}", file=out)
    print(f"  mail: {settings.mail.transport}", file=out)
    return EXIT_OK


def print_issues(config_path: Path, issues: Sequence[Issue], err: TextIO) -> None:
    """One ``licensewatch: error:`` line for one problem; a count and one line each for more."""
    if len(issues) == 1:
        print(f"licensewatch: error: {issues[0]}", file=err)
        return
    print(
        f"licensewatch: error: {len(issues)} problems in {config_path} and the files it names:",
        file=err,
    )
    for issue in issues:
        print(f"  {issue}", file=err)
    print("  (fix them and run check-config again; nothing was written)", file=err)


def print_summary(result: RunResult, out: TextIO) -> None:
    """A short summary of a run for the person (or cron mail) reading stdout."""
    from licensewatch import model
    from licensewatch.notify.wording import usd

    c, t = result.counts, result.totals
    label = {"dry_run": "dry run", "braked": "BRAKED: nothing sent"}.get(result.status, "done")
    rows: list[tuple[str, str]] = [
        ("accounts read", f"{c.get('accounts_read', 0):,} (activity from {result.signal})"),
        ("phones read", f"{c.get('phones_read', 0):,}"),
        ("HR separations read", f"{c.get('separations_read', 0):,}"),
        (
            "dormant accounts",
            f"{t.dormant_accounts:,} licensed accounts ({t.license_findings:,} licences)",
        ),
        ("dormant phones", f"{t.phone_findings:,}"),
    ]
    for reason in model.REASON_ORDER:
        count = t.by_reason.get(reason.value, 0)
        if count:
            rows.append((f"  {reason.value}", f"{count:,}  ({model.REASON_TEXT[reason]})"))
    rows += [
        ("exempted", f"{c.get('exempted_findings', 0):,}"),
        ("unpriced", f"{t.unpriced_findings:,} (no rate-card item: see findings.csv)"),
        ("annual avoidable cost", f"USD {usd(t.annual_avoidable_cents)}"),
        ("accrued avoidable cost", f"USD {usd(t.accrued_avoidable_cents)}"),
    ]
    d = result.delivery
    if d is None:
        rows.append(("emails", f"none sent ({label}); previews in {result.reports_dir}"))
    else:
        where = f" in {result.outbox_dir}" if result.outbox_dir is not None else ""
        rows.append(
            (
                "emails",
                f"{result.notices} queued this run; {d.sent} sent{where}, {d.failed} failed, "
                f"{d.left} waiting for the next run"
                + (f", {d.unknown} of unknown outcome" if d.unknown else "")
                + (f"; {len(d.undelivered)} not delivered yet" if d.undelivered else ""),
            )
        )
    if result.removed:
        rows.append(("removed", f"{result.removed:,} resources gone since the last run"))
    rows += [("safety brake", why) for why in result.brake_reasons]
    if result.unassigned_findings:
        rows.append(
            (
                "unassigned",
                f"{result.unassigned_findings:,} findings with no focal point (unassigned.csv)",
            )
        )
    rows.append(("reports", str(result.reports_dir)))
    print(f"licensewatch run {result.run_key} as of {result.as_of.isoformat()}: {label}", file=out)
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value}", file=out)


def _run(args: argparse.Namespace) -> int:
    return run(
        args.config,
        args.as_of or datetime.now(UTC).date(),
        dry_run=args.dry_run,
        override_brake=args.override_brake,
        strict=args.strict,
    )


def _check_config(args: argparse.Namespace) -> int:
    return check_config(args.config)


COMMANDS = (
    Command(
        "run",
        "run the nightly job (what cron calls)",
        (
            arg(
                "--as-of",
                type=as_of_date,
                help="the day to assess, YYYY-MM-DD (default: today, UTC)",
            ),
            arg(
                "--dry-run",
                action="store_true",
                help="compute and write reports (with email previews) but send and record nothing",
            ),
            arg(
                "--strict",
                action="store_true",
                help="treat data warnings (e.g. leavers with no account) as errors (exit 2)",
            ),
            arg(
                "--override-brake",
                action="store_true",
                help="notify even if the safety brake trips (logged with who and when)",
            ),
        ),
        handler=_run,
    ),
    Command(
        "check-config",
        "validate the config and every file it names, without writing anything",
        handler=_check_config,
    ),
)
