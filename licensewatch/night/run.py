"""The nightly job, step by step: pull, reconcile, price, store, notify, report.

Everything is read and validated before anything is written. The database
work of a run is one transaction, committed only after the notices went out
and the reports were staged; the staged reports replace ``reports/<as_of>/``
only after that commit, so a failed run leaves the database and the previous
reports as they were (a first run's schema too: it is created in the run's
transaction). A dry run writes its reports (with previews of the emails inside
them) to ``reports/dry-run/<as_of>/``, never to ``reports/<as_of>/``, and
leaves the database and the outbox untouched.
"""

from __future__ import annotations

import getpass
import json
import os
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final, TypeVar

import pandas as pd
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from licensewatch import model, store
from licensewatch.config import Settings
from licensewatch.logs import get_logger
from licensewatch.night.inputs import ReferenceData, build_sources, read_reference, screen
from licensewatch.night.publish import publish, remove_leftovers, staged_folder, write_json
from licensewatch.night.reports import write_run_reports
from licensewatch.night.stages import Stages, StageTiming
from licensewatch.notify.compose import DepartmentNotice, compose_notices
from licensewatch.notify.delivery import Delivery, deliver, queue_notices
from licensewatch.notify.transports import build_transport
from licensewatch.notify.transports.base import Transport
from licensewatch.notify.transports.directory import DirectoryTransport
from licensewatch.reports.csvsafe import write_csv
from licensewatch.reports.finance import Totals, finance_summary, totals
from licensewatch.reports.findings import findings_table
from licensewatch.reports.history import history_for_run, realized_savings_cents
from licensewatch.rules import brake, cadence, strictness
from licensewatch.rules.brake import Baseline
from licensewatch.rules.phone_history import apply_history
from licensewatch.rules.pricing import price, rates_in_force
from licensewatch.rules.reconcile import ReconcileResult, reconcile
from licensewatch.rules.removals import bookable_removals, pulled_resource_ids
from licensewatch.sources.interface import AccountsPull, PhonesPull, SeparationsPull
from licensewatch.store import outbox as store_outbox
from licensewatch.store.decisions import current_decisions
from licensewatch.store.history import removed_state

log = get_logger(__name__)
T = TypeVar("T")
#: The folder under the reports folder where dry runs write: ``reports/dry-run/<as_of>/``.
DRY_RUN_DIR: Final = "dry-run"
_NOT_COMMITTED: Final = (
    "nothing was recorded or sent and the previous reports are as they were; "
    "free space on the database's disk or check the database, then run again"
)


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
    brake_reasons: tuple[str, ...] = ()
    delivery: Delivery | None = None
    removed: int = 0


@dataclass(frozen=True)
class _Inputs:
    reference: ReferenceData
    accounts: AccountsPull
    phones: PhonesPull
    separations: SeparationsPull
    neutralised: dict[str, int]
    implausible_dates: dict[str, int]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class _Gathered:
    reference: ReferenceData
    reconciled: ReconcileResult
    counts: dict[str, int]
    signal: str
    notes: tuple[str, ...]
    #: Every data warning of the run: the inputs' (impossible dates), then reconcile's.
    warnings: tuple[str, ...] = ()
    neutralised: dict[str, int] = field(default_factory=dict)
    implausible_dates: dict[str, int] = field(default_factory=dict)


def run(
    settings: Settings,
    as_of: date,
    *,
    dry_run: bool = False,
    override_brake: bool = False,
    strict: bool = False,
    clock: Callable[[], datetime] = utc_now,
) -> RunResult:
    """Run the nightly job for ``as_of`` and return what it did.

    Raises a :class:`~licensewatch.errors.LicensewatchError` subclass on bad
    config or input (nothing written), source failure, storage failure, or
    another run holding the lock. A run the safety brake stopped returns with
    status ``braked`` (nothing sent); the caller turns that into exit code 3.
    """
    run_key = uuid.uuid4().hex[:12]
    engine = store.open_engine(settings.database_url)
    try:
        with store.run_lock(engine):
            _remove_leftovers(settings.reports_dir)
            return _run_locked(
                settings, engine, as_of, run_key, dry_run, override_brake, strict, clock
            )
    finally:
        engine.dispose()


def _run_locked(
    settings: Settings,
    engine: Engine,
    as_of: date,
    run_key: str,
    dry_run: bool,
    override_brake: bool,
    strict: bool,
    clock: Callable[[], datetime],
) -> RunResult:
    started = clock()
    as_of_ts = pd.Timestamp(as_of, tz="UTC")
    log.info("run %s starting: as_of=%s dry_run=%s", run_key, as_of.isoformat(), dry_run)
    stages = Stages()
    # Exemptions may run at most a year past today (the clock), whatever day is assessed.
    inputs = _read_inputs(settings, stages, as_of, today=started.astimezone(UTC).date())
    # Built (options checked, secrets read) before anything is written; connects on first send.
    transport = None if dry_run else build_transport(settings)
    # A dry run never touches reports/<as_of>/, what finance reads.
    final_dir = (settings.reports_dir / DRY_RUN_DIR if dry_run else settings.reports_dir) / (
        as_of.isoformat()
    )
    # Closing the session without a commit rolls back: a failure anywhere below
    # leaves the database as it was (a first run's schema included: it is
    # created in the run's transaction), and staged_folder removes the staged reports.
    with Session(engine) as session, staged_folder(final_dir, run_key) as staging:
        store.upgrade_in(session)
        run_id = store.start_run(
            session, as_of=as_of, started_at=started, dry_run=dry_run, run_key=run_key
        )
        # Phones get their registration dates from our own observations before
        # reconcile; the updated history is stored with the rest of the run.
        phones, history = apply_history(inputs.phones.phones, store.load_history(session), as_of_ts)
        gathered = _reconcile(settings, inputs, phones, as_of_ts, stages)
        for warning in gathered.warnings:
            log.warning("data: %s", warning)
        # --strict: data warnings are errors, raised before anything is written.
        strictness.enforce(gathered.warnings, strict=strict)
        costed, state = _assess(session, gathered, as_of_ts, stages)
        gathered.counts["new_findings"] = int(
            (~costed["resource_id"].isin(state["resource_id"])).sum()
        )
        brake_reasons = _brake(session, gathered.counts, settings, override_brake)
        braked = bool(brake_reasons) and not override_brake
        status = "dry_run" if dry_run else ("braked" if braked else "ok")
        planned = cadence.plan(
            costed,
            state,
            current_decisions(session, costed["resource_id"].tolist()),
            as_of=as_of_ts,
            reminder_days=settings.mail.reminder_days,
            escalate_after_days=settings.mail.escalate_after_days,
        )
        # A finding whose last message no focal point has accepted yet gets no
        # reminder or escalation: its clock starts when that message arrives.
        waiting = planned["resource_id"].isin(list(store_outbox.awaiting_delivery(session)))
        planned.loc[waiting.to_numpy(bool), "cycle"] = pd.NA
        notices, unassigned = stages.run(
            "compose emails",
            lambda: compose_notices(
                planned,
                gathered.reference.focal_points,
                as_of=as_of_ts,
                mail=settings.mail,
                rate_card_in_force=rates_in_force(gathered.reference.rate_card, as_of_ts),
                templates_dir=settings.templates_dir,
                run_key=run_key,
                date=started,
            ),
        )
        preview = status != "ok"
        if preview:
            stages.run(
                "preview emails",
                lambda: _preview(notices, DirectoryTransport(staging / "email-previews")),
            )
            told: set[str] = set()
        else:
            queue_notices(session, notices, as_of=as_of, run_id=run_id, now=clock())
            told = {rid for n in notices for rid in n.resource_ids}
        planned = cadence.mark_told(planned, told, as_of_ts)
        removed = 0
        if status == "ok":
            gone = bookable_removals(
                store.absent_since_last_run(
                    session,
                    pulled_resource_ids(inputs.accounts.licenses, phones)
                    | {model.fold_key(rid) for rid in planned["resource_id"].tolist()},
                ),
                accounts_complete=inputs.accounts.complete,
                phones_complete=inputs.phones.complete,
            )
            removed = store.mark_removed(session, gone, removed_at=as_of_ts.to_pydatetime())
            if removed:
                log.info(
                    "%d resources found dormant before are gone from the pull: removed", removed
                )
        run_totals = totals(planned)
        realized = realized_savings_cents(session, as_of=as_of)
        summary = _summary(
            run_key, as_of, status, gathered, run_totals, len(notices), brake_reasons
        )
        summary["removed_resources"] = removed
        summary["realized_savings_to_date_usd"] = model.money(realized)
        summary["realized_savings_annual_usd"] = model.money(_removed_run_rate(session, as_of_ts))
        stages.run(
            "write reports",
            lambda: _write_reports(
                staging,
                planned,
                planned[planned["resource_id"].isin(unassigned["resource_id"])],
                gathered,
                summary,
                brake_reasons if braked else (),
            ),
        )
        stages.run(
            "write finance reports",
            lambda: write_run_reports(
                staging,
                planned,
                as_of=as_of,
                rate_card_in_force=rates_in_force(gathered.reference.rate_card, as_of_ts),
                history=history_for_run(session, planned, as_of=as_of),
                realized_savings_cents=realized,
                braked_reason="; ".join(brake_reasons) if braked else None,
                templates_dir=settings.templates_dir,
            ),
        )
        stages.run(
            "store",
            lambda: _store(
                session, run_id, planned, told, run_totals, gathered.counts, clock, status
            ),
        )
        if status == "ok":
            # A braked run keeps its findings for diagnosis but must not move
            # what we remember about resources and phones.
            store.save_history(session, history)
        if dry_run:
            session.rollback()
        else:
            with store.storage_errors("commit the run", engine.url, hint=_NOT_COMMITTED):
                session.commit()
        publish(staging, final_dir)

    delivery = None
    if status == "ok" and transport is not None:
        # After the commit: the outbox holds every message, so a crash from
        # here on loses nothing and the next run sends what is left.
        name = settings.mail.transport
        delivery = stages.run(
            "send emails", lambda: deliver(engine, transport, name=name, clock=clock)
        )
    log.info(
        "run %s %s: as_of=%s %d findings, USD %s a year avoidable, %d emails %s; counts %s",
        run_key,
        {
            "ok": "finished",
            "dry_run": "finished (dry run: nothing sent or recorded)",
            "braked": "BRAKED (nothing sent)",
        }[status],
        as_of.isoformat(),
        len(planned),
        model.money(run_totals.annual_avoidable_cents),
        len(notices),
        "previewed, none sent" if preview else "queued",
        json.dumps(gathered.counts, sort_keys=True),
    )
    return RunResult(
        run_key=run_key,
        run_id=None if dry_run else run_id,
        as_of=as_of,
        status=status,
        counts=gathered.counts,
        totals=run_totals,
        reports_dir=final_dir,
        outbox_dir=settings.mail.directory
        if not preview and settings.mail.transport == "directory"
        else None,
        notices=0 if preview else len(notices),
        unassigned_findings=len(unassigned),
        signal=gathered.signal,
        notes=gathered.notes,
        stages=tuple(stages.timings),
        brake_reasons=tuple(brake_reasons),
        delivery=delivery,
        removed=removed,
    )


def _brake(
    session: Session, counts: Mapping[str, int], settings: Settings, override: bool
) -> list[str]:
    """Check the run against the last good one; log an override with who and when."""
    last = store.last_good_run(session)
    baseline = None if last is None else Baseline(last.as_of.isoformat(), last.counts)
    reasons = brake.check(counts, baseline, settings.policy)
    for reason in reasons:
        log.warning("safety brake: %s", reason)
    if reasons and override:
        log.warning(
            "safety brake OVERRIDDEN by %s at %s (--override-brake): notifying anyway",
            operator(),
            utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    return reasons


def operator() -> str:
    """Who is running licensewatch (for logs and records)."""
    try:
        return str(getpass.getuser())
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def _remove_leftovers(reports_dir: Path) -> None:
    """Remove staging folders that killed runs left behind (never a live run's)."""
    remove_leftovers(reports_dir)
    remove_leftovers(reports_dir / DRY_RUN_DIR)


def _read_inputs(settings: Settings, stages: Stages, as_of: date, *, today: date) -> _Inputs:
    """Read, validate and screen (``inputs.screen``) every input; raises before writing anything.

    Dates are screened against the moment the feeds were read: the machine's
    clock, not the run's (a test's clock may replay past nights on later data).
    """
    sources = build_sources(settings)
    reference = read_reference(settings, today)
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
    read_at = pd.Timestamp(utc_now())
    screened = screen(
        accounts, phones, separations, as_of=pd.Timestamp(as_of, tz="UTC"), now=read_at
    )
    neutralised = {**reference.neutralised, **screened.neutralised}
    if neutralised:
        log.warning(
            "control characters or lone surrogates neutralised in %d values: %s",
            sum(neutralised.values()),
            json.dumps(neutralised, sort_keys=True),
        )
    return _Inputs(
        reference,
        screened.accounts,
        screened.phones,
        screened.separations,
        dict(sorted(neutralised.items())),
        screened.implausible_dates,
        screened.warnings,
    )


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
    return _Gathered(
        inputs.reference,
        reconciled,
        counts,
        inputs.accounts.signal,
        notes,
        warnings=(*inputs.warnings, *reconciled.warnings),
        neutralised=inputs.neutralised,
        implausible_dates=inputs.implausible_dates,
    )


def _assess(
    session: Session, gathered: _Gathered, as_of: pd.Timestamp, stages: Stages
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Price the findings with what the store remembers; returns them and their stored state."""
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
    return costed, state


def _removed_run_rate(session: Session, as_of: pd.Timestamp) -> int:
    """The annual cost of every resource removed by ``as_of``: the savings' run rate."""
    removed = removed_state(session)
    done = removed["removed_at"].notna() & (removed["removed_at"] <= as_of)
    return int(removed.loc[done, "annual_cost_cents"].sum())


def _preview(notices: Sequence[DepartmentNotice], transport: Transport) -> None:
    """Write what would have been sent into the reports (dry run, braked run)."""
    with transport:
        for notice in notices:
            transport.send(notice.message, key=notice.key)
            log.info("%s for %s previewed (not sent)", notice.kind, notice.department)


def _write_reports(
    folder: Path,
    costed: pd.DataFrame,
    unassigned: pd.DataFrame,
    gathered: _Gathered,
    summary: Mapping[str, object],
    brake_reasons: Sequence[str],
) -> None:
    write_csv(findings_table(costed), folder / "findings.csv")
    write_csv(finance_summary(costed), folder / "finance_summary.csv")
    write_csv(findings_table(unassigned), folder / "unassigned.csv")
    leavers = gathered.reconciled.unmatched_leavers.drop(columns="hired_on", errors="ignore")
    leavers["separation_date"] = leavers["separation_date"].dt.strftime("%Y-%m-%d")
    write_csv(leavers, folder / "leavers_without_account.csv")
    by_email = gathered.reconciled.matched_by_email
    write_csv(
        by_email.assign(separation_date=by_email["separation_date"].dt.strftime("%Y-%m-%d")),
        folder / "leavers_matched_by_email.csv",
    )
    write_json(folder / "run_summary.json", summary)
    if brake_reasons:
        reasons = "".join(f"- {reason}\n" for reason in brake_reasons)
        (folder / "BRAKED.txt").write_text(
            "BRAKED: this run sent nothing: the data looked incomplete or implausible.\n"
            f"{reasons}Check the feeds; if the numbers are right, re-run with --override-brake.\n",
            encoding="utf-8",
        )


def _store(
    session: Session,
    run_id: int,
    costed: pd.DataFrame,
    notified: Collection[str],
    run_totals: Totals,
    counts: Mapping[str, int],
    clock: Callable[[], datetime],
    status: str,
) -> None:
    now = clock()
    store.save_findings(session, run_id, costed)
    if status != "braked":
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
        status=status,
        finished_at=clock(),
        counts=counts,
        annual_avoidable_cents=run_totals.annual_avoidable_cents,
        accrued_avoidable_cents=run_totals.accrued_avoidable_cents,
        findings_count=len(costed),
    )


def _summary(
    run_key: str,
    as_of: date,
    status: str,
    gathered: _Gathered,
    run_totals: Totals,
    notices: int,
    brake_reasons: Sequence[str],
) -> dict[str, object]:
    return {
        "run_key": run_key,
        "as_of": as_of.isoformat(),
        "status": status,
        "dry_run": status == "dry_run",
        "braked": status == "braked",
        "brake_reasons": list(brake_reasons),
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
        "warnings": list(gathered.warnings),
        # Text values whose control characters or lone surrogates were replaced, per feed.column.
        "neutralised_values": dict(gathered.neutralised),
        # Dates before date_bounds.FLOOR or in the future, set aside, per feed.column.
        "implausible_dates": dict(gathered.implausible_dates),
    }
