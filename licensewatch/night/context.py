"""What the steps of one night share (:class:`RunContext`) and what they hand each other.

The context is built once the run's transaction and staging folder are open;
every step after that takes it and returns what it produced, so each step can
be run alone against a session and a folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

import pandas as pd
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from licensewatch import store
from licensewatch.config import Settings
from licensewatch.night.inputs import ReferenceData
from licensewatch.night.publish import staged_folder
from licensewatch.night.stages import Stages
from licensewatch.notify.compose import DepartmentNotice
from licensewatch.reports.finance import Totals
from licensewatch.rules.reconcile import ReconcileResult
from licensewatch.sources.interface import AccountsPull, PhonesPull, SeparationsPull
from licensewatch.store import RunStatus

#: The folder under the reports folder where dry runs write: ``reports/dry-run/<as_of>/``.
DRY_RUN_DIR: Final = "dry-run"


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunOptions:
    """What the operator asked of this run (``--dry-run``, ``--override-brake``, ``--strict``)."""

    dry_run: bool = False
    override_brake: bool = False
    strict: bool = False


@dataclass(frozen=True)
class RunContext:
    """One night: its settings, day, key, clock, stages, transaction and staging folder."""

    settings: Settings
    as_of: date
    run_key: str
    clock: Callable[[], datetime]
    #: The run's clock when it began (the runs row's ``started_at``, the emails' Date).
    started: datetime
    stages: Stages
    options: RunOptions
    engine: Engine
    session: Session
    #: Where the reports are written until the run commits (``publish`` swaps it in).
    staging: Path
    #: ``reports/<as_of>/`` (or ``reports/dry-run/<as_of>/``).
    final_dir: Path
    run_id: int

    @property
    def as_of_ts(self) -> pd.Timestamp:
        """The assessed day as a UTC timestamp, what the rules take."""
        return pd.Timestamp(self.as_of, tz="UTC")


def report_folder(settings: Settings, as_of: date, *, dry_run: bool) -> Path:
    """Where the run's reports go: ``reports/<as_of>/``, a dry run's under ``dry-run/``.

    A dry run never touches ``reports/<as_of>/``, what finance reads.
    """
    base = settings.reports_dir / DRY_RUN_DIR if dry_run else settings.reports_dir
    return base / as_of.isoformat()


@contextmanager
def open_context(
    settings: Settings,
    as_of: date,
    options: RunOptions,
    *,
    run_key: str,
    clock: Callable[[], datetime],
    started: datetime,
    stages: Stages,
    engine: Engine,
) -> Iterator[RunContext]:
    """Open the run's transaction and staging folder, record the run's start, yield the context.

    Closing the session without a commit rolls back: a failure in the block
    leaves the database as it was (a first run's schema included: it is
    created in the run's transaction), and ``staged_folder`` removes the staged reports.
    """
    final_dir = report_folder(settings, as_of, dry_run=options.dry_run)
    with Session(engine) as session, staged_folder(final_dir, run_key) as staging:
        store.upgrade_in(session)
        run_id = store.start_run(
            session, as_of=as_of, started_at=started, dry_run=options.dry_run, run_key=run_key
        )
        yield RunContext(
            settings=settings,
            as_of=as_of,
            run_key=run_key,
            clock=clock,
            started=started,
            stages=stages,
            options=options,
            engine=engine,
            session=session,
            staging=staging,
            final_dir=final_dir,
            run_id=run_id,
        )


@dataclass(frozen=True)
class Inputs:
    """Every input of the run, read, validated and screened (``night.inputs.screen``)."""

    reference: ReferenceData
    accounts: AccountsPull
    phones: PhonesPull
    separations: SeparationsPull
    neutralised: Mapping[str, int]
    implausible_dates: Mapping[str, int]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Gathered:
    """What reconcile made of the inputs, with the phones as our history dated them."""

    reference: ReferenceData
    reconciled: ReconcileResult
    #: The phones after ``apply_history`` and the history to store if the run is good.
    phones: pd.DataFrame
    history: pd.DataFrame
    #: What was read and what reconcile counted (``new_findings`` comes with :class:`Assessed`).
    counts: Mapping[str, int]
    signal: str
    notes: tuple[str, ...]
    #: Every data warning of the run: the inputs' (impossible dates), then reconcile's.
    warnings: tuple[str, ...]
    neutralised: Mapping[str, int]
    implausible_dates: Mapping[str, int]
    #: The accounts pull without its accounts table, which reconcile was the last to read
    #: (a quarter of the 1M night's memory): the licences the removals compare with, and
    #: for the seats (issue 17) the SKUs paid, the subscriptions and the licence states.
    accounts_pull: AccountsPull
    #: Whether the phones pull is proven to hold every phone (``book_removals``).
    phones_complete: bool
    #: The history as stored when the run began (``save_history`` writes only what moved).
    stored_history: pd.DataFrame | None = None


@dataclass(frozen=True)
class Assessed:
    """The findings priced, their stored state, and the run's counts (``new_findings`` too)."""

    costed: pd.DataFrame
    state: pd.DataFrame
    counts: Mapping[str, int]


@dataclass(frozen=True)
class Verdict:
    """The safety brake's reasons and the status they give the run."""

    status: RunStatus
    reasons: tuple[str, ...]
    #: Reasons found and not overridden (a dry run too says so in its reports).
    braked: bool

    @property
    def sends(self) -> bool:
        """Whether the run queues and sends its notices (neither dry nor braked)."""
        return self.status is RunStatus.OK


@dataclass(frozen=True)
class Cycle:
    """Today's turn of the notice cycle: what was planned, composed, told and booked removed."""

    #: The findings with their cycle, marked told where a notice was queued.
    planned: pd.DataFrame
    notices: tuple[DepartmentNotice, ...]
    #: Findings no focal point owns (``unassigned.csv``).
    unassigned: pd.DataFrame
    told: frozenset[str]
    removed: int
    totals: Totals


@dataclass(frozen=True)
class Outcome:
    """What the run's transaction produced, for the reports, the log line and the result."""

    gathered: Gathered
    assessed: Assessed
    verdict: Verdict
    cycle: Cycle
