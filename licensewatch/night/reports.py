"""The finance reports every run writes next to its CSVs.

:func:`write_run_reports` writes ``finance_summary.xlsx`` and
``finance_summary.html`` into the pipeline's staging folder. The
``licensewatch report finance|risk`` commands, which read the stored run
history instead, live in :mod:`licensewatch.cli.reports`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pandas as pd

from licensewatch.reports.finance_figures import FinanceFigures
from licensewatch.reports.finance_view import finance_view
from licensewatch.reports.history import (
    PeriodPoint,
    RunPoint,
    history_for_run,
    realized_savings_cents,
)
from licensewatch.reports.html import finance_html
from licensewatch.reports.render import environment, write_text
from licensewatch.reports.seats import SeatReport
from licensewatch.reports.xlsx import write_finance_xlsx

__all__ = ["history_for_run", "realized_savings_cents", "write_run_reports"]


def write_run_reports(
    folder: Path,
    costed: pd.DataFrame,
    *,
    as_of: date,
    rate_card_in_force: pd.DataFrame,
    history: Sequence[RunPoint],
    realized_savings_cents: int = 0,
    braked_reason: str | None = None,
    templates_dir: Path | None = None,
    seats: SeatReport | None = None,
    figures: FinanceFigures | None = None,
) -> None:
    """Write ``finance_summary.xlsx`` and ``finance_summary.html`` of a run into ``folder``.

    ``costed`` is the run's costed findings with ``status`` (what findings.csv
    shows); ``history`` the trend points, this run's last (see
    :func:`licensewatch.reports.history.history_for_run`). With
    ``braked_reason`` both files say BRAKED in large letters.
    """
    view = finance_view(
        costed,
        as_of=as_of,
        rate_card_in_force=rate_card_in_force,
        trend=[PeriodPoint(p.as_of, p) for p in history],
        realized_savings_cents=realized_savings_cents,
        braked_reason=braked_reason,
        seats=seats,
        figures=figures,
    )
    write_finance_xlsx(view, folder / "finance_summary.xlsx")
    write_text(folder / "finance_summary.html", finance_html(view, environment(templates_dir)))
