"""``licensewatch run`` (what cron calls) and ``licensewatch check-config``."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from licensewatch import model, store
from licensewatch.cli.table import Command, arg, as_of_date
from licensewatch.config import Settings, load_settings
from licensewatch.errors import EXIT_OK, SafetyBrake
from licensewatch.night import run as pipeline
from licensewatch.night.inputs import build_sources, read_reference
from licensewatch.notify.delivery import undelivered_error
from licensewatch.notify.routing_check import check_routing
from licensewatch.notify.transports import build_transport
from licensewatch.notify.wording import usd


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


def check_config(config: Path, out: TextIO | None = None) -> int:
    """``licensewatch check-config``: validate the config and every file it names."""
    out = out or sys.stdout
    settings = load_settings(config)
    sources = build_sources(settings)
    for source in (sources.accounts, sources.phones, sources.separations):
        source.check()
    # Exemptions may run at most a year past today, as in a run (whatever its --as-of).
    reference = read_reference(settings, datetime.now(UTC).date())
    routing = check_routing(settings, reference.focal_points, _known_departments(settings))
    routing.raise_if_failed()
    print(f"{settings.config_path}: OK", file=out)
    print(
        f"  rate card: {len(reference.rate_card)} items; focal points: "
        f"{len(reference.focal_points)} departments; exemptions: {len(reference.exemptions)}",
        file=out,
    )
    for feed, source_settings in settings.sources.items():
        print(f"  {feed}: {source_settings.kind}", file=out)
    for line in routing.unrouted:
        print(f"  warning: {line}", file=out)
    # Checks the transport's options and reads its secrets; connects to nothing.
    build_transport(settings).close()
    print(f"  mail: {settings.mail.transport}", file=out)
    return EXIT_OK


def _known_departments(settings: Settings) -> list[object]:
    """The departments of the last good run's findings (one per finding) and the device pools'.

    check-config pulls nothing: before the first run only the device pools'
    departments are known (a run checks its own findings again).
    """
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


def print_summary(result: pipeline.RunResult, out: TextIO) -> None:
    """A short summary of a run for the person (or cron mail) reading stdout."""
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
