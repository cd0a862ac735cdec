"""The steps of a night, in the order :func:`licensewatch.night.run.run` takes them.

Each step is a small function over the :class:`~licensewatch.night.context.RunContext`
and what the steps before it produced; none reaches for a global.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime
from functools import partial

import pandas as pd

from licensewatch import forked, model, store
from licensewatch.config import Settings
from licensewatch.logs import get_logger
from licensewatch.night.context import (
    Assessed,
    Gathered,
    Inputs,
    RunContext,
    RunOptions,
    Verdict,
)
from licensewatch.night.inputs import (
    Sources,
    build_sources,
    pull_local_first,
    read_reference,
    screen,
)
from licensewatch.night.stages import Stages
from licensewatch.notify.compose import DepartmentNotice, compose_notices
from licensewatch.notify.delivery import queue_notices
from licensewatch.notify.routing_check import check_routing
from licensewatch.notify.transports.base import Transport
from licensewatch.notify.transports.directory import DirectoryTransport
from licensewatch.reports.html import risk_html
from licensewatch.reports.render import environment as report_environment
from licensewatch.reports.risk import risk_view
from licensewatch.rules import brake, cadence, strictness
from licensewatch.rules.brake import Baseline
from licensewatch.rules.phone_history import apply_history, carry_over
from licensewatch.rules.pricing import price
from licensewatch.rules.reconcile import reconcile
from licensewatch.rules.removals import bookable_removals, pulled_resource_ids
from licensewatch.rules.seats import attach_groups
from licensewatch.rules.warning_kinds import summarise
from licensewatch.sources.cucm.clusters import pool_departments
from licensewatch.store import RunStatus
from licensewatch.store import outbox as store_outbox
from licensewatch.store.decisions import current_decisions, record_decisions
from licensewatch.store.history import notified_state

log = get_logger(__name__)


def operator() -> str:
    """Who is running licensewatch (for logs and records)."""
    try:
        return str(getpass.getuser())
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def read_inputs(
    settings: Settings,
    stages: Stages,
    as_of: date,
    *,
    today: date,
    now: Callable[[], datetime],
    sources: Sources | None = None,
) -> Inputs:
    """Read, validate and screen (``inputs.screen``) every input; raises before writing anything.

    Dates are screened against ``now()`` once the feeds are read: the machine's
    clock by default, not the run's (a test's clock may replay past nights on
    later data). ``sources`` defaults to the adapters the settings name.
    """
    feeds = build_sources(settings) if sources is None else sources
    reference = read_reference(settings, today)
    accounts, phones, separations = pull_local_first(feeds, stages.run, processes=forked.usable())
    log.info(
        "pulled %d accounts (%d licences; activity from %s), %d phones, %d separations",
        len(accounts.accounts),
        len(accounts.licenses),
        accounts.signal,
        len(phones.phones),
        len(separations.separations),
    )
    screened = screen(
        accounts, phones, separations, as_of=pd.Timestamp(as_of, tz="UTC"), now=pd.Timestamp(now())
    )
    neutralised = {**reference.neutralised, **screened.neutralised}
    if neutralised:
        log.warning(
            "control characters or lone surrogates neutralised in %d values: %s",
            sum(neutralised.values()),
            json.dumps(neutralised, sort_keys=True),
        )
    return Inputs(
        reference,
        screened.accounts,
        screened.phones,
        screened.separations,
        dict(sorted(neutralised.items())),
        screened.implausible_dates,
        screened.warnings,
    )


def reconcile_inputs(ctx: RunContext, inputs: Inputs) -> Gathered:
    """Date the phones from our history, reconcile every feed; enforce ``--strict``.

    Data warnings are logged; with ``--strict`` they are errors, raised before
    anything is written.
    """
    settings = ctx.settings
    stored = store.load_history(ctx.session)
    phones, history = apply_history(inputs.phones.phones, stored, ctx.as_of_ts)
    history = carry_over(history, stored, inputs.phones.skipped_clusters)
    pools = {
        **settings.device_pool_departments,
        **pool_departments(settings.sources["phones"]),
    }
    reconciled = ctx.stages.run(
        "reconcile",
        lambda: reconcile(
            inputs.accounts.accounts,
            inputs.accounts.licenses,
            phones,
            inputs.separations.separations,
            inputs.reference.exemptions,
            policy=settings.policy,
            as_of=ctx.as_of_ts,
            owner_match=settings.sources["phones"].owner_match,
            device_pool_departments=pools,
        ),
    )
    counts = {
        "accounts_read": len(inputs.accounts.accounts),
        "licenses_read": len(inputs.accounts.licenses),
        "phones_read": len(phones),
        "separations_read": len(inputs.separations.separations),
        **brake.cluster_counts(
            {c: int(phones["cluster"].eq(c).sum()) for c in inputs.phones.clusters}
        ),
        **reconciled.counts,
    }
    notes = (*inputs.accounts.notes, *inputs.phones.notes, *inputs.separations.notes)
    for note in notes:
        log.warning("%s", note)
    warnings = (*inputs.warnings, *reconciled.warnings)
    log_warnings(warnings)
    strictness.enforce(warnings, strict=ctx.options.strict)
    return Gathered(
        inputs.reference,
        reconciled,
        phones,
        history,
        counts,
        inputs.accounts.signal,
        notes,
        warnings=warnings,
        neutralised=inputs.neutralised,
        implausible_dates=inputs.implausible_dates,
        accounts_pull=replace(inputs.accounts, accounts=inputs.accounts.accounts.iloc[:0]),
        phones_complete=inputs.phones.complete,
        stored_history=stored,
    )


def log_warnings(warnings: Sequence[str]) -> None:
    """One WARNING line per kind of data warning (count and first); each one at DEBUG."""
    for warning in warnings:
        log.debug("data: %s", warning)
    for kind in summarise(warnings):
        log.warning("data: %s", kind.line)


def assess(ctx: RunContext, gathered: Gathered) -> Assessed:
    """Price the findings with what the store remembers; count the new ones."""
    findings = gathered.reconciled.findings
    state = store.load_state(ctx.session, findings["resource_id"].tolist())
    # A phone with no owner and no registration dates is dormant since we first saw it so.
    seen = (
        findings[["resource_id"]]
        .merge(state[["resource_id", "first_seen_dormant"]], on="resource_id", how="left")[
            "first_seen_dormant"
        ]
        .set_axis(findings.index)
    )
    since = findings["dormant_since"].fillna(seen.astype(model.DATETIME)).fillna(ctx.as_of_ts)
    findings = findings.assign(dormant_since=since.astype(model.DATETIME))
    rate_card = gathered.reference.rate_card
    costed = ctx.stages.run("price", lambda: price(findings, rate_card, ctx.as_of_ts))
    costed = attach_groups(costed, gathered.accounts_pull.license_states)
    new = int((~model.isin(costed["resource_id"], state["resource_id"])).sum())
    return Assessed(costed, state, {**gathered.counts, "new_findings": new})


def check_brake(ctx: RunContext, assessed: Assessed) -> Verdict:
    """Check the run against the last good one; log an override with who and when."""
    last = store.last_good_run(ctx.session)
    baseline = None if last is None else Baseline(last.as_of.isoformat(), last.counts)
    reasons = tuple(brake.check(assessed.counts, baseline, ctx.settings.policy))
    for reason in reasons:
        log.warning("safety brake: %s", reason)
    override = ctx.options.override_brake
    if reasons and override:
        log.warning(
            "safety brake OVERRIDDEN by %s at %s (--override-brake): notifying anyway",
            operator(),
            ctx.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    braked = bool(reasons) and not override
    return Verdict(status_of(ctx.options, braked=braked), reasons, braked)


def status_of(options: RunOptions, *, braked: bool) -> RunStatus:
    """How a run ends: ``dry_run`` whatever the brake says, else ``braked`` or ``ok``."""
    if options.dry_run:
        return RunStatus.DRY_RUN
    return RunStatus.BRAKED if braked else RunStatus.OK


def plan_cycle(ctx: RunContext, assessed: Assessed, gathered: Gathered) -> pd.DataFrame:
    """Which finding gets a first notice, a reminder, an overdue notice or an escalation today.

    First the routing is checked (``notify.routing_check``): a missing
    recipient the cycle needs, or with ``--strict`` a department without a
    focal point, stops the run with exit 2 before anything is written.
    """
    costed = assessed.costed
    check = check_routing(
        ctx.settings, gathered.reference.focal_points, costed["department"].tolist()
    )
    for line in check.unrouted:
        log.warning("routing: %s", line)
    check.raise_if_failed(strict=ctx.options.strict)
    settings = ctx.settings
    planned = cadence.plan(
        costed,
        assessed.state,
        current_decisions(ctx.session, costed["resource_id"].tolist()),
        as_of=ctx.as_of_ts,
        rules=cadence.Rules.of(settings.mail, settings.policy),
        first_run=store.last_good_run(ctx.session) is None,
    )
    # A finding whose last message no focal point has accepted yet gets no
    # reminder or escalation: its clock starts when that message arrives.
    waiting = model.isin(planned["resource_id"], store_outbox.awaiting_delivery(ctx.session))
    planned.loc[waiting, "cycle"] = pd.NA
    return planned


def compose(
    ctx: RunContext, planned: pd.DataFrame, gathered: Gathered, rates: pd.DataFrame
) -> tuple[list[DepartmentNotice], pd.DataFrame]:
    """One message per department with findings to tell, the committee's digest, the unowned."""
    settings = ctx.settings

    def risk() -> str:
        view = risk_view(
            planned,
            as_of=ctx.as_of,
            notified=notified_state(ctx.session),
            trend=(),
            response_days=settings.mail.response_days,
        )
        return risk_html(view, report_environment(settings.templates_dir))

    return ctx.stages.run(
        "compose emails",
        lambda: compose_notices(
            planned,
            gathered.reference.focal_points,
            as_of=ctx.as_of_ts,
            mail=settings.mail,
            rate_card_in_force=rates,
            templates_dir=settings.templates_dir,
            run_key=ctx.run_key,
            phones=gathered.phones,
            date=ctx.started,
            signer=answer_signer(ctx.settings),
            rules=cadence.Rules.of(settings.mail, settings.policy),
            risk_html=risk,
        ),
    )


def answer_signer(settings: Settings) -> Callable[[str, str], str] | None:
    """The MAC of each department's answer files when an answers mailbox is read, else None.

    The key was checked before the run wrote anything (``night.answers.prepare``).
    """
    if settings.answers is None:
        return None
    from licensewatch.answers.signature import read_key, sign

    return partial(sign, read_key(settings.answers.signing_key_env, os.environ))


def record_rule_removals(ctx: RunContext, verdict: Verdict, planned: pd.DataFrame) -> int:
    """Record the removals the no-response rule decided today (a good run), decided by the rule."""
    removals = cadence.auto_removals(planned)
    if not verdict.sends or removals.empty:
        return 0
    decisions = removals[["resource_id", "department"]].assign(
        decision="remove", justification="no answer (rule auto_remove_after_days)",
        keep_until=pd.Series(pd.NaT, index=removals.index, dtype=model.DATETIME), row=0,
    )  # fmt: skip
    recorded = record_decisions(
        ctx.session, decisions, decided_at=ctx.clock(), source_file=cadence.RULE,
        imported_by=cadence.RULE, decided_by=cadence.RULE, source="rule",
    )  # fmt: skip
    log.info("%d licences of separated staff put on the removal list by %s", recorded, cadence.RULE)
    return recorded


def queue_or_preview(
    ctx: RunContext, verdict: Verdict, notices: Sequence[DepartmentNotice]
) -> set[str]:
    """Queue the notices in the outbox (a good run) or preview them in the reports.

    Returns the resources told (none when previewed).
    """
    if not verdict.sends:
        previews = DirectoryTransport(ctx.staging / "email-previews")
        ctx.stages.run("preview emails", lambda: preview(notices, previews))
        return set()
    queue_notices(ctx.session, notices, as_of=ctx.as_of, run_id=ctx.run_id, now=ctx.clock())
    return {rid for n in notices for rid in n.resource_ids}


def preview(notices: Sequence[DepartmentNotice], transport: Transport) -> None:
    """Write what would have been sent into the reports (dry run, braked run)."""
    with transport:
        for notice in notices:
            transport.send(notice.message, key=notice.key)
            log.info("%s for %s previewed (not sent)", notice.kind, notice.department)


def book_removals(
    ctx: RunContext, verdict: Verdict, gathered: Gathered, planned: pd.DataFrame
) -> int:
    """Mark as removed what was dormant before and is gone from a complete pull (good runs)."""
    if not verdict.sends:
        return 0
    pull = gathered.accounts_pull
    pulled = pd.concat(
        [pulled_resource_ids(pull.licenses, gathered.phones), planned["resource_id"]],
        ignore_index=True,
    )
    gone = bookable_removals(
        store.absent_since_last_run(ctx.session, pulled),
        accounts_complete=pull.complete,
        phones_complete=gathered.phones_complete,
    )
    removed = store.mark_removed(ctx.session, gone, removed_at=ctx.as_of_ts.to_pydatetime())
    if removed:
        log.info("%d resources found dormant before are gone from the pull: removed", removed)
    return removed
