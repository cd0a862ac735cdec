"""The nightly job, step by step: read, reconcile, price, brake, notify, report, store, send.

Everything is read and validated before anything is written. The database
work of a run is one transaction, committed only after the notices went out
and the reports were staged; the staged reports replace ``reports/<as_of>/``
only after that commit, so a failed run leaves the database and the previous
reports as they were (a first run's schema too: it is created in the run's
transaction). A dry run writes its reports (with previews of the emails inside
them) to ``reports/dry-run/<as_of>/``, never to ``reports/<as_of>/``, and
leaves the database and the outbox untouched.

The steps are in :mod:`licensewatch.night.steps` and
:mod:`licensewatch.night.outputs`; they share one
:class:`~licensewatch.night.context.RunContext`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

from licensewatch import arrow_memory, gc_pause, model, store
from licensewatch.config import Settings
from licensewatch.errors import LicensewatchError
from licensewatch.logs import get_logger
from licensewatch.night import answers as night_answers
from licensewatch.night.context import (
    DRY_RUN_DIR,
    Cycle,
    Gathered,
    Outcome,
    RunContext,
    RunOptions,
    Verdict,
    open_context,
    utc_now,
)
from licensewatch.night.inputs import Sources
from licensewatch.night.outputs import store_run, write_outputs
from licensewatch.night.prune import describe, prune
from licensewatch.night.publish import publish, remove_leftovers
from licensewatch.night.stages import Stages, StageTiming
from licensewatch.night.steps import (
    assess,
    book_removals,
    check_brake,
    compose,
    operator,
    plan_cycle,
    queue_or_preview,
    read_inputs,
    reconcile_inputs,
    record_rule_removals,
)
from licensewatch.notify.delivery import Delivery, deliver
from licensewatch.notify.transports import build_transport
from licensewatch.notify.transports.base import Transport
from licensewatch.reports.finance import Totals, totals
from licensewatch.rules import cadence
from licensewatch.rules.pricing import rates_in_force
from licensewatch.store import RunStatus

__all__ = ["DRY_RUN_DIR", "RunResult", "operator", "run", "utc_now"]

log = get_logger(__name__)
_NOT_COMMITTED: Final = (
    "nothing was recorded or sent and the previous reports are as they were; "
    "free space on the database's disk or check the database, then run again"
)
_ENDED: Final = {
    RunStatus.OK: "finished",
    RunStatus.DRY_RUN: "finished (dry run: nothing sent or recorded)",
    RunStatus.BRAKED: "BRAKED (nothing sent)",
}


@dataclass(frozen=True)
class RunResult:
    """What a run did, for the CLI summary and the operator."""

    run_key: str
    run_id: int | None
    as_of: date
    status: RunStatus
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


def run(
    settings: Settings,
    as_of: date,
    *,
    dry_run: bool = False,
    override_brake: bool = False,
    strict: bool = False,
    clock: Callable[[], datetime] = utc_now,
    sources: Sources | None = None,
    transport: Transport | None = None,
    read_clock: Callable[[], datetime] = utc_now,
) -> RunResult:
    """Run the nightly job for ``as_of`` and return what it did.

    ``clock`` is the run's time (its records, the emails' dates, the cycle);
    ``read_clock`` the moment the feeds were read, which the date screening
    compares with (the machine's clock unless given). ``sources`` and
    ``transport`` replace the adapters and the mail transport the settings name
    (a dry run sends nothing whatever the transport).

    Raises a :class:`~licensewatch.errors.LicensewatchError` subclass on bad
    config or input (nothing written), source failure, storage failure, or
    another run holding the lock. A run the safety brake stopped returns with
    status ``braked`` (nothing sent); the caller turns that into exit code 3.
    """
    options = RunOptions(dry_run=dry_run, override_brake=override_brake, strict=strict)
    arrow_memory.use_system_allocator()  # freed text buffers go back: see arrow_memory
    run_key = uuid.uuid4().hex[:12]
    engine = store.open_engine(settings.database_url)
    try:
        with store.run_lock(engine):
            _remove_leftovers(settings.reports_dir)
            started = clock()
            log.info("run %s starting: as_of=%s dry_run=%s", run_key, as_of.isoformat(), dry_run)
            stages = Stages()
            # Exemptions may run at most a year past today (the clock), whatever day is assessed.
            today = started.astimezone(UTC).date()
            with gc_pause.paused():  # millions of long-lived objects: see gc_pause
                inputs = read_inputs(
                    settings, stages, as_of, today=today, now=read_clock, sources=sources
                )
            # Built (options checked, secrets read) before anything is written;
            # it connects on the first send.
            mail = None if dry_run else transport or build_transport(settings)
            replies = night_answers.prepare(settings, dry_run=dry_run)
            with open_context(
                settings,
                as_of,
                options,
                run_key=run_key,
                clock=clock,
                started=started,
                stages=stages,
                engine=engine,
            ) as ctx:
                to_file = night_answers.read(ctx, inputs, replies)
                gathered = reconcile_inputs(ctx, inputs)
                # Reconcile was the last to read the accounts table and the phones as
                # pulled: dropped here, not at the end of the run (a quarter of the 1M
                # night's memory).
                del inputs
                outcome = _night(ctx, gathered)
            night_answers.file(settings, replies, to_file)
            delivery = _send(ctx, outcome.verdict, mail)
            _retain(ctx)
            _log_end(ctx, outcome)
            return _result(ctx, outcome, delivery)
    finally:
        engine.dispose()
        gc_pause.thaw()


def _night(ctx: RunContext, gathered: Gathered) -> Outcome:
    """The rest of the run's transaction: assess, brake, notify, report, store, commit, publish."""
    assessed = assess(ctx, gathered)
    verdict = check_brake(ctx, assessed)
    rates = rates_in_force(gathered.reference.rate_card, ctx.as_of_ts)
    planned = plan_cycle(ctx, assessed, gathered)
    notices, unassigned = compose(ctx, planned, gathered, rates)
    told = queue_or_preview(ctx, verdict, notices)
    record_rule_removals(ctx, verdict, planned)
    planned = cadence.mark_told(planned, told, ctx.as_of_ts)
    removed = book_removals(ctx, verdict, gathered, planned)
    cycle = Cycle(planned, tuple(notices), unassigned, frozenset(told), removed, totals(planned))
    outcome = Outcome(gathered, assessed, verdict, cycle)
    summary, reports = write_outputs(ctx, outcome, rates)
    try:  # while the reports are written (in other processes where they can be)
        ctx.stages.run(
            "store",
            lambda: store_run(ctx, verdict, assessed, planned, told, cycle.totals, summary),
        )
        if verdict.sends:
            # A braked run keeps its findings for diagnosis but must not move
            # what we remember about resources and phones.
            store.save_history(ctx.session, gathered.history, gathered.stored_history)
        reports.wait()
    finally:
        reports.cancel()  # nothing left to stop once waited for
    # Before the commit: a mode or group the system refuses leaves nothing recorded.
    ctx.settings.file_modes.apply_tree(ctx.staging)
    _commit(ctx)
    publish(ctx.staging, ctx.final_dir)
    return outcome


def _commit(ctx: RunContext) -> None:
    """Commit the run's transaction (a dry run rolls it back)."""
    if ctx.options.dry_run:
        ctx.session.rollback()
        return
    with store.storage_errors("commit the run", ctx.engine.url, hint=_NOT_COMMITTED):
        ctx.session.commit()


def _send(ctx: RunContext, verdict: Verdict, transport: Transport | None) -> Delivery | None:
    """Send what the outbox holds (a good run only).

    After the commit: the outbox holds every message, so a crash from here on
    loses nothing and the next run sends what is left.
    """
    if not verdict.sends or transport is None:
        return None
    name = ctx.settings.mail.transport
    return ctx.stages.run(
        "send emails", lambda: deliver(ctx.engine, transport, name=name, clock=ctx.clock)
    )


def _retain(ctx: RunContext) -> None:
    """Apply ``[retention]`` after the commit, still under the lock (not on a dry run).

    A failure is logged, not raised: the night is recorded and sent, and the
    next night prunes what this one could not.
    """
    if ctx.options.dry_run:
        return
    now = ctx.clock()
    try:
        pruned = ctx.stages.run(
            "retention",
            lambda: prune(ctx.engine, ctx.settings, now=now, dry_run=False),
        )
    except (LicensewatchError, OSError) as exc:
        log.error("retention failed (the run is recorded; the next run retries): %s", exc)
        return
    log.info("%s", describe(pruned))


def _log_end(ctx: RunContext, outcome: Outcome) -> None:
    cycle = outcome.cycle
    log.info(
        "run %s %s: as_of=%s %d findings, USD %s a year avoidable, %d emails %s; counts %s",
        ctx.run_key,
        _ENDED[outcome.verdict.status],
        ctx.as_of.isoformat(),
        len(cycle.planned),
        model.money(cycle.totals.annual_avoidable_cents),
        len(cycle.notices),
        "queued" if outcome.verdict.sends else "previewed, none sent",
        json.dumps(outcome.assessed.counts, sort_keys=True),
    )


def _result(ctx: RunContext, outcome: Outcome, delivery: Delivery | None) -> RunResult:
    verdict, cycle, mail = outcome.verdict, outcome.cycle, ctx.settings.mail
    return RunResult(
        run_key=ctx.run_key,
        run_id=None if ctx.options.dry_run else ctx.run_id,
        as_of=ctx.as_of,
        status=verdict.status,
        counts=outcome.assessed.counts,
        totals=cycle.totals,
        reports_dir=ctx.final_dir,
        outbox_dir=mail.directory if verdict.sends and mail.transport == "directory" else None,
        notices=len(cycle.notices) if verdict.sends else 0,
        unassigned_findings=len(cycle.unassigned),
        signal=outcome.gathered.signal,
        notes=outcome.gathered.notes,
        stages=tuple(ctx.stages.timings),
        brake_reasons=verdict.reasons,
        delivery=delivery,
        removed=cycle.removed,
    )


def _remove_leftovers(reports_dir: Path) -> None:
    """Remove staging folders that killed runs left behind (never a live run's)."""
    remove_leftovers(reports_dir)
    remove_leftovers(reports_dir / DRY_RUN_DIR)
