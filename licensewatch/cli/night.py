"""What each CLI command does, in terms of the library; prints for people, returns exit codes."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from licensewatch import model, store
from licensewatch.config import load_settings
from licensewatch.errors import EXIT_OK, SafetyBrake
from licensewatch.night import run as pipeline
from licensewatch.night.inputs import build_sources, read_reference
from licensewatch.notify.delivery import undelivered_error
from licensewatch.notify.transports import build_transport
from licensewatch.notify.wording import usd
from licensewatch.sources.interface import AccountsPull, AccountsSource, PhonesSource, Recordable


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


def report(
    config: Path,
    which: str,
    *,
    fmt: str,
    out: Path | None,
    date_from: date | None = None,
    date_to: date | None = None,
    as_of: date | None = None,
    stream: TextIO | None = None,
) -> int:
    """``licensewatch report finance|risk``: write a report from the stored run history."""
    from licensewatch.night.reports import report_finance, report_risk

    settings = load_settings(config)
    folder = out if out is not None else settings.reports_dir
    if which == "finance":
        path = report_finance(settings, date_from=date_from, date_to=date_to, fmt=fmt, out=folder)
    else:
        path = report_risk(settings, as_of=as_of, fmt=fmt, out=folder)
    print(f"{which} report written to {path}", file=stream or sys.stdout)
    return EXIT_OK


def db_upgrade(config: Path, out: TextIO | None = None) -> int:
    """``licensewatch db upgrade``: bring the database to the newest schema."""
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


def check_config(config: Path, out: TextIO | None = None) -> int:
    """``licensewatch check-config``: validate the config and every file it names."""
    out = out or sys.stdout
    settings = load_settings(config)
    sources = build_sources(settings)
    for source in (sources.accounts, sources.phones, sources.separations):
        source.check()
    # Exemptions may run at most a year past today, as in a run (whatever its --as-of).
    reference = read_reference(settings, datetime.now(UTC).date())
    print(f"{settings.config_path}: OK", file=out)
    print(
        f"  rate card: {len(reference.rate_card)} items; focal points: "
        f"{len(reference.focal_points)} departments; exemptions: {len(reference.exemptions)}",
        file=out,
    )
    for feed, source_settings in settings.sources.items():
        print(f"  {feed}: {source_settings.kind}", file=out)
    # Checks the transport's options and reads its secrets; connects to nothing.
    build_transport(settings).close()
    print(f"  mail: {settings.mail.transport}", file=out)
    return EXIT_OK


def pull(config: Path, save: Path | None, out: TextIO | None = None) -> int:
    """``licensewatch pull``: read the live feeds and optionally save their raw responses.

    Saved folders replay through the ``*-export`` kinds (``graph-export``,
    ``cucm-export``), so a bad night can be reproduced offline exactly.
    """
    out = out or sys.stdout
    settings = load_settings(config)
    sources = build_sources(settings)
    feeds: list[tuple[str, AccountsSource | PhonesSource]] = [
        ("accounts", sources.accounts),
        ("phones", sources.phones),
    ]
    for feed, source in feeds:
        kind = settings.sources[feed].kind
        where = ""
        if save is not None and isinstance(source, Recordable):
            source.record_to(save / feed)
            where = f", raw responses in {save / feed}"
        elif save is not None:
            where = f" (kind {kind!r} reads files already; nothing to save)"
        pulled = source.pull()
        size = len(pulled.accounts) if isinstance(pulled, AccountsPull) else len(pulled.phones)
        print(f"  {feed} ({kind}): {size:,} read in {pulled.requests:,} requests{where}", file=out)
    return EXIT_OK


def demo(
    folder: Path, accounts: int, departments: int, seed: int, as_of: date, out: TextIO | None = None
) -> int:
    """``licensewatch demo``: generate the synthetic organization and run the job on it."""
    from licensewatch.demo import generate

    out = out or sys.stdout
    org = generate(folder, accounts=accounts, departments=departments, seed=seed, as_of=as_of)
    print(
        f"Demo organization in {org.root}: {org.accounts:,} accounts in {org.departments} "
        f"departments, {org.phones:,} phones, {org.separations:,} HR separations.",
        file=out,
    )
    settings = load_settings(org.config_path)
    result = pipeline.run(settings, as_of)
    print_summary(result, out)
    print(
        f"Config used: {org.config_path}  (re-run: licensewatch run --config {org.config_path})",
        file=out,
    )
    return EXIT_OK


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
