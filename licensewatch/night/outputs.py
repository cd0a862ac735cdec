"""What a night leaves behind: its reports in the staging folder and its rows in the store."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Final

import pandas as pd
from sqlalchemy.orm import Session

from licensewatch import forked, model, store
from licensewatch.errors import LicensewatchError
from licensewatch.night.context import Assessed, Gathered, Outcome, RunContext, Verdict
from licensewatch.night.publish import write_json
from licensewatch.night.reports import write_run_reports
from licensewatch.night.stages import Stages
from licensewatch.notify.renewals import renewal_messages
from licensewatch.reports.csvsafe import write_csv
from licensewatch.reports.finance import Totals, finance_summary
from licensewatch.reports.finance_figures import FinanceFigures, finance_figures
from licensewatch.reports.findings import findings_table
from licensewatch.reports.follow_up import follow_up
from licensewatch.reports.history import RunPoint, history_for_run, realized_savings_cents
from licensewatch.reports.seats import (
    SeatReport,
    errors_csv_table,
    renewals_csv_table,
    seat_report,
    seats_csv_table,
)
from licensewatch.rules.warning_kinds import summarise
from licensewatch.store import RunStatus
from licensewatch.store import outbox as store_outbox
from licensewatch.store.decisions import last_actions
from licensewatch.store.history import removed_state


def removed_run_rate(session: Session, as_of: pd.Timestamp) -> int:
    """The annual cost of every resource removed by ``as_of``: the savings' run rate."""
    removed = removed_state(session)
    done = removed["removed_at"].notna() & (removed["removed_at"] <= as_of)
    return int(removed.loc[done, "annual_cost_cents"].sum())


def run_summary(
    ctx: RunContext,
    verdict: Verdict,
    gathered: Gathered,
    counts: Mapping[str, int],
    run_totals: Totals,
    notices: int,
) -> dict[str, object]:
    """The run's ``run_summary.json`` (without the removal and savings figures)."""
    status = verdict.status
    return {
        "run_key": ctx.run_key,
        "as_of": ctx.as_of.isoformat(),
        "status": status.value,
        "dry_run": status is RunStatus.DRY_RUN,
        "braked": status is RunStatus.BRAKED,
        "brake_reasons": list(verdict.reasons),
        "activity_signal": gathered.signal,
        "counts": dict(sorted(counts.items())),
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
        "warnings_by_kind": [kind.as_dict() for kind in summarise(gathered.warnings)],
        # Text values whose control characters or lone surrogates were replaced, per feed.column.
        "neutralised_values": dict(gathered.neutralised),
        # Dates before date_bounds.FLOOR or in the future, set aside, per feed.column.
        "implausible_dates": dict(gathered.implausible_dates),
    }


def write_reports(
    folder: Path,
    costed: pd.DataFrame,
    unassigned: pd.DataFrame,
    gathered: Gathered,
    summary: Mapping[str, object],
    brake_reasons: Sequence[str],
    seats: SeatReport | None = None,
) -> None:
    """Write the run's findings, leavers, seats, summary (and ``BRAKED.txt``) into ``folder``."""
    write_csv(findings_table(costed), folder / "findings.csv")
    if seats is not None:
        write_seat_files(folder, seats)
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


class Background:
    """Stages running in forked processes (:func:`start_in_background`); wait before the commit."""

    def __init__(self, stages: Stages) -> None:
        self._stages = stages
        self._running: list[tuple[str, float, forked.Child]] = []

    def add(self, name: str, started: float, child: forked.Child) -> None:
        """Wait for ``child``, the stage ``name`` begun at ``started``, with the others."""
        self._running.append((name, started, child))

    def wait(self) -> None:
        """Until every stage has ended, in the order started; the first error is raised here.

        Each stage's time is its own: until it ended in its process, not until
        it was waited for.
        """
        try:
            while self._running:
                self._collect(*self._running.pop(0))
        finally:
            self.cancel()

    def _collect(self, name: str, started: float, child: forked.Child) -> None:
        self._stages.run(name, child.result, started=started, ended=lambda: child.ended)

    def cancel(self) -> None:
        """Stop the stages that still run (the run failed before waiting for them)."""
        running, self._running = self._running, []
        for _, _, child in running:
            child.stop()


def start_in_background(
    ctx: RunContext,
    name: str,
    work: Callable[[], None],
    into: Background,
    *,
    started: float | None = None,
) -> None:
    """Run ``work`` as the stage ``name``: in a forked process, waited for with ``into``.

    Where no process can be forked (:func:`licensewatch.forked.usable`), here
    and now. The work writes files into the staging folder; it must not touch
    the database (the run's transaction stays in this process). ``started``:
    when the stage began, if before this call (what it read first).
    """
    if started is None:
        started = time.perf_counter()
    if not forked.usable():
        ctx.stages.run(name, work, started=started)
        return
    into.add(name, started, forked.start(name, work, failure=LicensewatchError))


#: The stage that writes finance_summary.xlsx and .html.
FINANCE_STAGE: Final = "write finance reports"
#: The stage that writes the CSV files and the run summary.
REPORTS_STAGE: Final = "write reports"


def start_finance_reports(
    ctx: RunContext,
    verdict: Verdict,
    planned: pd.DataFrame,
    rates: pd.DataFrame,
    realized: int,
    seats: SeatReport | None,
    actions: Mapping[str, tuple[bool, str]],
    into: Background,
) -> None:
    """Start writing the finance reports of the run into its staging folder.

    The trend and figures are read from the database here. The workbook and
    page are written in the background (:func:`start_in_background`), while
    the run stores its findings.
    """
    started = time.perf_counter()  # the stage reads the trend and figures first
    history = history_for_run(ctx.session, planned, as_of=ctx.as_of)
    figures = run_figures(planned, actions, history, ctx.as_of)

    def write() -> None:
        write_run_reports(
            ctx.staging,
            planned,
            as_of=ctx.as_of,
            rate_card_in_force=rates,
            history=history,
            realized_savings_cents=realized,
            braked_reason="; ".join(verdict.reasons) if verdict.braked else None,
            templates_dir=ctx.settings.templates_dir,
            seats=seats,
            figures=figures,
        )

    start_in_background(ctx, FINANCE_STAGE, write, into, started=started)


def run_figures(
    planned: pd.DataFrame,
    actions: Mapping[str, tuple[bool, str]],
    history: Sequence[RunPoint],
    as_of: date,
) -> FinanceFigures:
    """By decision (a removal whose last Graph attempt failed counts as failed), by reason, MoM.

    ``actions``: the findings' latest deprovisioning results (``store.last_actions``).
    """
    failed = {rid for rid, (ok, _) in actions.items() if not ok}
    return finance_figures(planned, failed, history, as_of)


def store_run(
    ctx: RunContext,
    verdict: Verdict,
    assessed: Assessed,
    planned: pd.DataFrame,
    notified: Collection[str],
    run_totals: Totals,
    summary: Mapping[str, object],
) -> None:
    """Save the findings, move what we remember (unless braked) and close the runs row.

    The row keeps ``summary`` without its per-item warnings (their kinds and
    counts stay): ``licensewatch runs show`` reads it after retention has
    deleted the report folder.
    """
    session, now = ctx.session, ctx.clock()
    store.save_findings(session, ctx.run_id, planned)
    if verdict.status is not RunStatus.BRAKED:
        store.update_state(
            session,
            ctx.run_id,
            planned,
            seen_at=now,
            notified_ids=notified,
            notified_at=now if notified else None,
        )
    store.finish_run(
        session,
        ctx.run_id,
        status=verdict.status,
        finished_at=ctx.clock(),
        counts=assessed.counts,
        annual_avoidable_cents=run_totals.annual_avoidable_cents,
        accrued_avoidable_cents=run_totals.accrued_avoidable_cents,
        findings_count=len(planned),
        summary={key: value for key, value in summary.items() if key != "warnings"},
    )


def write_outputs(
    ctx: RunContext, outcome: Outcome, rates: pd.DataFrame
) -> tuple[Mapping[str, object], Background]:
    """Write every report of the run into its staging folder; its run summary, and the reports
    still being written (the CSV files, the finance workbook and page: wait for them before
    the commit), while the run stores its findings.

    The email previews are there already.
    """
    verdict, cycle, session = outcome.verdict, outcome.cycle, ctx.session
    realized = realized_savings_cents(session, as_of=ctx.as_of)
    summary = run_summary(
        ctx, verdict, outcome.gathered, outcome.assessed.counts, cycle.totals, len(cycle.notices)
    )
    summary["removed_resources"] = cycle.removed
    summary["realized_savings_to_date_usd"] = model.money(realized)
    summary["realized_savings_annual_usd"] = model.money(removed_run_rate(session, ctx.as_of_ts))
    planned = cycle.planned
    seats = run_seats(ctx, outcome.gathered, planned, rates)
    summary["seats"] = {
        **seats.totals(),
        "renewal_notices_queued": queue_renewals(ctx, verdict, seats),
    }
    summary["warnings"] = [*outcome.gathered.warnings, *seats.warnings]
    actions = last_actions(session, planned["resource_id"].tolist())
    planned = planned.assign(follow_up=follow_up(planned, actions, ctx.as_of_ts))
    background = Background(ctx.stages)
    unassigned = planned[model.isin(planned["resource_id"], cycle.unassigned["resource_id"])]
    try:
        start_finance_reports(ctx, verdict, planned, rates, realized, seats, actions, background)
        start_in_background(
            ctx,
            REPORTS_STAGE,
            lambda: write_reports(
                ctx.staging,
                planned,
                unassigned,
                outcome.gathered,
                summary,
                verdict.reasons if verdict.braked else (),
                seats,
            ),
            background,
        )
    except BaseException:
        background.cancel()
        raise
    return summary, background


def run_seats(
    ctx: RunContext, gathered: Gathered, planned: pd.DataFrame, rates: pd.DataFrame
) -> SeatReport:
    """The run's seat figures (an accounts pull without seat data gives the held SKUs only)."""
    return seat_report(
        gathered.accounts_pull,
        planned,
        rates_in_force=rates,
        as_of=ctx.as_of_ts,
        horizon_days=ctx.settings.renewal_horizon_days,
    )


def queue_renewals(ctx: RunContext, verdict: Verdict, seats: SeatReport) -> int:
    """Queue finance's renewal notices (a good run with ``[finance] notify_to``); how many."""
    if not verdict.sends:
        return 0
    messages = renewal_messages(
        seats.renewals,
        store.sent_renewal_notices(ctx.session),
        mail=ctx.settings.mail,
        notify_to=ctx.settings.finance_notify_to,
        horizon_days=seats.horizon_days,
        run_key=ctx.run_key,
        now=ctx.started,
    )
    added = set(
        store_outbox.queue(
            ctx.session,
            [m.queued for m in messages],
            as_of=ctx.as_of,
            run_id=ctx.run_id,
            now=ctx.clock(),
        )
    )
    records = [m.record for m in messages if m.queued.key in added]
    store.record_renewal_notices(ctx.session, records, queued_on=ctx.as_of)
    return len(records)


def write_seat_files(folder: Path, seats: SeatReport) -> None:
    """seats.csv (always), renewals.csv and seat_errors.csv."""
    write_csv(seats_csv_table(seats.seats), folder / "seats.csv")
    write_csv(renewals_csv_table(seats.renewals), folder / "renewals.csv")
    write_csv(errors_csv_table(seats.errors), folder / "seat_errors.csv")
