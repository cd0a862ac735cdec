"""The nightly job, step by step: pull, reconcile, price, store, notify, report.

Everything is read and validated before anything is written. The database
work of a run is one transaction, committed only after the notices went out
and the reports were staged; the staged reports replace ``reports/<as_of>/``
only after that commit, so a failed run leaves the database and the previous
reports as they were. A dry run writes its reports (with previews of the
emails inside them) and leaves the database and the outbox untouched.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TypeVar

import pandas as pd
from sqlalchemy.orm import Session

from licensewatch import model, store
from licensewatch.config import Settings
from licensewatch.inputs import ReferenceData, build_sources, read_reference
from licensewatch.logs import get_logger
from licensewatch.notify.compose import DepartmentNotice, compose_notices
from licensewatch.notify.directory import DirectoryTransport
from licensewatch.notify.transport import Transport
from licensewatch.pricing import price, rates_in_force
from licensewatch.publish import publish, staged_folder, write_json
from licensewatch.reconcile import ReconcileResult, reconcile
from licensewatch.registration_history import apply_history
from licensewatch.reports.csvsafe import write_csv
from licensewatch.reports.finance import Totals, finance_summary, totals
from licensewatch.reports.findings import findings_table
from licensewatch.sources.interface import AccountsPull, PhonesPull, SeparationsPull
from licensewatch.stages import Stages, StageTiming

log = get_logger(__name__)
T = TypeVar("T")


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunResult:
    """What a run did, for the CLI summary and the operator."""

    run_key: str
    run_id: int | None
    as_of: date
    status: str
    counts: Mapping[str, int]
    totals: Totals
    reports_dir: Path
    outbox_dir: Path | None
    notices: int
    unassigned_findings: int
    signal: str
    notes: tuple[str, ...]
    stages: tuple[StageTiming, ...] = ()


@dataclass(frozen=True)
class _Inputs:
    reference: ReferenceData
    accounts: AccountsPull
    phones: PhonesPull
    separations: SeparationsPull


@dataclass(frozen=True)
class _Gathered:
    reference: ReferenceData
    reconciled: ReconcileResult
    counts: dict[str, int]
    signal: str
    notes: tuple[str, ...]


def run(
    settings: Settings,
    as_of: date,
    *,
    dry_run: bool = False,
    clock: Callable[[], datetime] = utc_now,
) -> RunResult:
    """Run the nightly job for ``as_of`` and return what it did.

    Raises a :class:`~licensewatch.errors.LicensewatchError` subclass on bad
    config or input (nothing written), source failure, or storage failure.
    """
    run_key = uuid.uuid4().hex[:12]
    started = clock()
    as_of_ts = pd.Timestamp(as_of, tz="UTC")
    log.info("run %s starting: as_of=%s dry_run=%s", run_key, as_of.isoformat(), dry_run)
    stages = Stages()
    inputs = _read_inputs(settings, stages)
    final_dir = settings.reports_dir / as_of.isoformat()

    engine = store.open_engine(settings.database_url)
    try:
        store.upgrade(engine)
        # Closing the session without a commit rolls back: a failure anywhere below
        # leaves the database as it was, and staged_folder removes the staged reports.
        with Session(engine) as session, staged_folder(final_dir, run_key) as staging:
            run_id = store.start_run(
                session, as_of=as_of, started_at=started, dry_run=dry_run, run_key=run_key
            )
            # Phones get their registration dates from our own observations before
            # reconcile; the updated history is stored with the rest of the run.
            phones, history = apply_history(
                inputs.phones.phones, store.load_history(session), as_of_ts
            )
            gathered = _reconcile(settings, inputs, phones, as_of_ts, stages)
            store.save_history(session, history)
            costed, earlier = _assess(session, gathered, as_of_ts, stages)
            notices, unassigned = stages.run(
                "compose emails",
                lambda: compose_notices(
                    costed,
                    gathered.reference.focal_points,
                    as_of=as_of_ts,
                    mail=settings.mail,
                    rate_card_in_force=rates_in_force(gathered.reference.rate_card, as_of_ts),
                    templates_dir=settings.templates_dir,
                    run_key=run_key,
                ),
            )
            due = [n for n in notices if not set(n.resource_ids) <= earlier]
            transport: Transport = (
                DirectoryTransport(staging / "email-previews") if dry_run else _transport(settings)
            )
            told = stages.run(
                "deliver emails",
                lambda: _deliver(due, transport, verb="previewed" if dry_run else "sent"),
            )
            notified = set() if dry_run else told
            costed = _with_status(costed, earlier | notified)
            run_totals = totals(costed)
            summary = _summary(run_key, as_of, dry_run, gathered, run_totals, len(due))
            stages.run(
                "write reports",
                lambda: _write_reports(
                    staging,
                    costed,
                    costed[costed["resource_id"].isin(unassigned["resource_id"])],
                    gathered,
                    summary,
                ),
            )
            stages.run(
                "store",
                lambda: _store(
                    session, run_id, costed, notified, run_totals, gathered.counts, clock, dry_run
                ),
            )
            if dry_run:
                session.rollback()
            else:
                session.commit()
            publish(staging, final_dir)
    finally:
        engine.dispose()

    log.info(
        "run %s finished%s: %d findings, USD %s a year avoidable, %d notices",
        run_key,
        " (dry run: nothing sent or recorded)" if dry_run else "",
        len(costed),
        model.money(run_totals.annual_avoidable_cents),
        len(due),
    )
    return RunResult(
        run_key=run_key,
        run_id=None if dry_run else run_id,
        as_of=as_of,
        status="dry_run" if dry_run else "ok",
        counts=gathered.counts,
        totals=run_totals,
        reports_dir=final_dir,
        outbox_dir=None if dry_run else settings.mail.directory,
        notices=len(due),
        unassigned_findings=len(unassigned),
        signal=gathered.signal,
        notes=gathered.notes,
        stages=tuple(stages.timings),
    )


def _read_inputs(settings: Settings, stages: Stages) -> _Inputs:
    """Read and validate every input; raises before anything is written."""
    sources = build_sources(settings)
    reference = read_reference(settings)
    accounts = stages.run("pull accounts", sources.accounts.pull)
    phones = stages.run("pull phones", sources.phones.pull)
    separations = stages.run("read separations", sources.separations.pull)
    log.info(
        "pulled %d accounts (%d licences; activity from %s), %d phones, %d separations",
        len(accounts.accounts),
        len(accounts.licenses),
        accounts.signal,
        len(phones.phones),
        len(separations.separations),
    )
    return _Inputs(reference, accounts, phones, separations)


def _reconcile(
    settings: Settings, inputs: _Inputs, phones: pd.DataFrame, as_of: pd.Timestamp, stages: Stages
) -> _Gathered:
    owner_match = str(settings.sources["phones"].options.get("owner_match", "upn"))
    reconciled = stages.run(
        "reconcile",
        lambda: reconcile(
            inputs.accounts.accounts,
            inputs.accounts.licenses,
            phones,
            inputs.separations.separations,
            inputs.reference.exemptions,
            policy=settings.policy,
            as_of=as_of,
            owner_match=owner_match,
            device_pool_departments=settings.device_pool_departments,
        ),
    )
    counts = {
        "accounts_read": len(inputs.accounts.accounts),
        "licenses_read": len(inputs.accounts.licenses),
        "phones_read": len(phones),
        "separations_read": len(inputs.separations.separations),
        **reconciled.counts,
    }
    notes = (*inputs.accounts.notes, *inputs.phones.notes, *inputs.separations.notes)
    for note in notes:
        log.warning("%s", note)
    return _Gathered(inputs.reference, reconciled, counts, inputs.accounts.signal, notes)


def _assess(
    session: Session, gathered: _Gathered, as_of: pd.Timestamp, stages: Stages
) -> tuple[pd.DataFrame, set[str]]:
    """Price the findings with what the store remembers; return them and the ids notified before."""
    findings = gathered.reconciled.findings
    state = store.load_state(session, findings["resource_id"].tolist())
    # A phone with no owner and no registration dates is dormant since we first saw it so.
    seen = (
        findings[["resource_id"]]
        .merge(state[["resource_id", "first_seen_dormant"]], on="resource_id", how="left")[
            "first_seen_dormant"
        ]
        .set_axis(findings.index)
    )
    since = findings["dormant_since"].fillna(seen.astype(model.DATETIME)).fillna(as_of)
    findings = findings.assign(dormant_since=since.astype(model.DATETIME))
    costed = stages.run("price", lambda: price(findings, gathered.reference.rate_card, as_of))
    notified_before = state.loc[state["last_notified_at"].notna(), "resource_id"]
    return costed, set(notified_before.astype(str))


def _with_status(costed: pd.DataFrame, notified: Collection[str]) -> pd.DataFrame:
    """``notified`` once a focal point has been told about the resource, ``new`` until then."""
    was_notified = costed["resource_id"].isin(list(notified))
    status = pd.Series(model.FindingStatus.NEW.value, index=costed.index, dtype=model.STRING)
    status[was_notified] = model.FindingStatus.NOTIFIED.value
    return costed.assign(status=status)


def _transport(settings: Settings) -> Transport:
    if settings.mail.transport == "directory":
        return DirectoryTransport(settings.mail.directory)
    raise AssertionError(f"transport {settings.mail.transport!r} passed config validation")


def _deliver(
    notices: Sequence[DepartmentNotice], transport: Transport, *, verb: str = "sent"
) -> set[str]:
    """Send each due notice; return the resource ids that focal points were told about."""
    told: set[str] = set()
    try:
        for notice in notices:
            transport.send(notice.message, key=notice.key)
            told.update(notice.resource_ids)
            log.info("notice for %s %s to %s", notice.department, verb, ", ".join(notice.to))
    finally:
        transport.close()
    return told


def _write_reports(
    folder: Path,
    costed: pd.DataFrame,
    unassigned: pd.DataFrame,
    gathered: _Gathered,
    summary: Mapping[str, object],
) -> None:
    write_csv(findings_table(costed), folder / "findings.csv")
    write_csv(finance_summary(costed), folder / "finance_summary.csv")
    write_csv(findings_table(unassigned), folder / "unassigned.csv")
    leavers = gathered.reconciled.unmatched_leavers.copy()
    leavers["separation_date"] = leavers["separation_date"].dt.strftime("%Y-%m-%d")
    write_csv(leavers, folder / "leavers_without_account.csv")
    write_json(folder / "run_summary.json", summary)


def _store(
    session: Session,
    run_id: int,
    costed: pd.DataFrame,
    notified: Collection[str],
    run_totals: Totals,
    counts: Mapping[str, int],
    clock: Callable[[], datetime],
    dry_run: bool,
) -> None:
    now = clock()
    store.save_findings(session, run_id, costed)
    store.update_state(
        session,
        run_id,
        costed,
        seen_at=now,
        notified_ids=notified,
        notified_at=now if notified else None,
    )
    store.finish_run(
        session,
        run_id,
        status="dry_run" if dry_run else "ok",
        finished_at=clock(),
        counts=counts,
        annual_avoidable_cents=run_totals.annual_avoidable_cents,
        accrued_avoidable_cents=run_totals.accrued_avoidable_cents,
        findings_count=len(costed),
    )


def _summary(
    run_key: str,
    as_of: date,
    dry_run: bool,
    gathered: _Gathered,
    run_totals: Totals,
    notices: int,
) -> dict[str, object]:
    return {
        "run_key": run_key,
        "as_of": as_of.isoformat(),
        "dry_run": dry_run,
        "activity_signal": gathered.signal,
        "counts": dict(sorted(gathered.counts.items())),
        "findings_by_reason": dict(sorted(run_totals.by_reason.items())),
        "dormant_accounts": run_totals.dormant_accounts,
        "license_findings": run_totals.license_findings,
        "phone_findings": run_totals.phone_findings,
        "unpriced_findings": run_totals.unpriced_findings,
        "annual_avoidable_usd": model.money(run_totals.annual_avoidable_cents),
        "accrued_avoidable_usd": model.money(run_totals.accrued_avoidable_cents),
        "notices": notices,
        "notes": list(gathered.notes),
    }
