"""``licensewatch report finance|risk``: reports from the stored run history.

- :func:`report_finance`: the finance views over a period (the last ``ok``
  run on or before each month end), as CSV, XLSX or HTML.
- :func:`report_risk`: the steering committee's view of the last ``ok`` run
  on or before a day, as HTML or Markdown.

The report commands only read the database; they never create or upgrade it.
What every run writes is :func:`licensewatch.night.reports.write_run_reports`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

from licensewatch.cli.table import Command, Group, arg, as_of_date
from licensewatch.config import Settings, load_settings
from licensewatch.errors import EXIT_OK, EXIT_USAGE, LicensewatchError

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from licensewatch.reports.finance_view import FinanceView
    from licensewatch.reports.history import PeriodPoint, RunPoint

# pandas, SQLAlchemy and the report writers are imported inside the functions
# that use them, so that ``licensewatch --help`` does not pay for them.

FINANCE_FORMATS: Final = ("csv", "xlsx", "html")
RISK_FORMATS: Final = ("html", "markdown")
_EXTENSIONS: Final = {"csv": "csv", "xlsx": "xlsx", "html": "html", "markdown": "md"}
#: How far back the risk report's trend goes.
RISK_TREND_MONTHS: Final = 12


class ReportError(LicensewatchError):
    """A report cannot be built from what is stored (no runs, or none in the period asked)."""

    exit_code = EXIT_USAGE


def _output(out: Path, stem: str, fmt: str) -> Path:
    """``out`` itself, or ``out/<stem>.<ext>`` when ``out`` is a folder (or has no extension)."""
    if out.is_dir() or not out.suffix:
        out.mkdir(parents=True, exist_ok=True)
        return out / f"{stem}.{_EXTENSIONS[fmt]}"
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def open_history(settings: Settings) -> Engine:
    """The database of the run history, to read: never created or upgraded here."""
    from sqlalchemy.engine import make_url

    from licensewatch import store

    url = make_url(settings.database_url)
    on_disk = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    # Opening a missing SQLite file would create an empty database.
    if on_disk and not Path(str(url.database)).exists():
        raise ReportError(
            f"no database at {url.database}",
            hint="run `licensewatch run` first, or fix database.url in the config",
        )
    engine = store.open_engine(settings.database_url)
    try:
        if store.schema_revision(engine) is None:
            raise ReportError(
                f"the database {store.safe_url(url)} holds no runs yet",
                hint="run `licensewatch run` first",
            )
        store.check_schema(engine)
    except LicensewatchError:
        engine.dispose()
        raise
    return engine


def _stored_points(session: Session, until: date | None = None) -> list[RunPoint]:
    from licensewatch.reports.history import load_points

    points = load_points(session, until=until)
    if not points:
        where = f" on or before {until.isoformat()}" if until else ""
        raise ReportError(
            f"no finished (ok) run{where} in the database",
            hint="run `licensewatch run` first, or choose a later date",
        )
    return points


def _period_views(
    session: Session, settings: Settings, date_from: date | None, date_to: date | None
) -> tuple[FinanceView, list[PeriodPoint]]:
    import pandas as pd

    from licensewatch import store
    from licensewatch.reports.finance_view import finance_view
    from licensewatch.reports.history import period_points, realized_savings_cents, stored_as_costed
    from licensewatch.reports.seats import read_seat_report
    from licensewatch.rules.pricing import rates_in_force
    from licensewatch.sources.reference import read_rate_card

    points = _stored_points(session, until=date_to)
    first = date_from or points[0].as_of
    last = date_to or points[-1].as_of
    if first > last:
        until = f"--to {last.isoformat()}" if date_to else f"the last run ({last.isoformat()})"
        raise ReportError(
            f"--from {first.isoformat()} is after {until}",
            hint="give a period that ends after it starts",
        )
    chosen = period_points(points, first, last)
    end = chosen[-1].point
    assert end.run_id is not None  # stored points always have one
    costed = stored_as_costed(store.findings_of_run(session, end.run_id))
    rates = rates_in_force(read_rate_card(settings.rate_card), pd.Timestamp(end.as_of, tz="UTC"))
    view = finance_view(
        costed,
        as_of=end.as_of,
        rate_card_in_force=rates,
        trend=chosen,
        realized_savings_cents=realized_savings_cents(session, as_of=end.as_of),
        title="Avoidable cost of dormant accounts and phones over a period",
        period=(first, last),
        # The seats as the period's last run wrote them (seats are not kept in the database).
        seats=read_seat_report(settings.reports_dir / end.as_of.isoformat()),
    )
    return view, chosen


def _period_csv(session: Session, chosen: Sequence[PeriodPoint], path: Path) -> None:
    """finance_summary rows of the run behind each period date, led by the date and run date."""
    import pandas as pd

    from licensewatch import store
    from licensewatch.reports.csvsafe import write_csv
    from licensewatch.reports.finance import SUMMARY_COLUMNS, finance_summary
    from licensewatch.reports.history import stored_as_costed

    frames = []
    for one in chosen:
        assert one.point.run_id is not None
        summary = finance_summary(
            stored_as_costed(store.findings_of_run(session, one.point.run_id))
        )
        summary.insert(0, "figures_as_of", one.point.as_of.isoformat())
        summary.insert(0, "date", one.day.isoformat())
        frames.append(summary)
    columns = ["date", "figures_as_of", *SUMMARY_COLUMNS]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    write_csv(table.astype("string"), path)


def report_finance(
    settings: Settings, *, date_from: date | None, date_to: date | None, fmt: str, out: Path
) -> Path:
    """Write the finance report of a period (default: all stored runs) and return its path.

    ``fmt`` is ``csv`` (finance_summary rows per month end), ``xlsx`` or
    ``html`` (figures at the period's end, trend across its month ends).
    Raises :class:`ReportError` when no ``ok`` run falls on or before the end.
    """
    from sqlalchemy.orm import Session

    from licensewatch.reports.html import finance_html
    from licensewatch.reports.render import environment, write_text
    from licensewatch.reports.xlsx import write_finance_xlsx

    if fmt not in FINANCE_FORMATS:
        raise ValueError(f"format must be one of {', '.join(FINANCE_FORMATS)}, not {fmt!r}")
    engine = open_history(settings)
    try:
        with Session(engine) as session:
            view, chosen = _period_views(session, settings, date_from, date_to)
            assert view.period is not None
            stem = f"finance_{view.period[0].isoformat()}_{view.period[1].isoformat()}"
            path = _output(out, stem, fmt)
            if fmt == "csv":
                _period_csv(session, chosen, path)
            elif fmt == "xlsx":
                write_finance_xlsx(view, path)
            else:
                write_text(path, finance_html(view, environment(settings.templates_dir)))
    finally:
        engine.dispose()
    return path


def _risk_trend_start(day: date) -> date:
    """The first day of the month :data:`RISK_TREND_MONTHS` - 1 months before ``day``'s."""
    months = day.year * 12 + day.month - 1 - (RISK_TREND_MONTHS - 1)
    return date(months // 12, months % 12 + 1, 1)


def report_risk(settings: Settings, *, as_of: date | None, fmt: str, out: Path) -> Path:
    """Write the steering committee's risk report and return its path.

    Reads the last ``ok`` run on or before ``as_of`` (default: the latest),
    the notices recorded in the resource state and the month-end trend of the
    year before. ``fmt`` is ``html`` or ``markdown``.
    """
    from sqlalchemy.orm import Session

    from licensewatch import store
    from licensewatch.reports.history import as_day, period_points, stored_as_costed
    from licensewatch.reports.html import risk_html, risk_markdown
    from licensewatch.reports.render import environment, write_text
    from licensewatch.reports.risk import risk_view
    from licensewatch.store.history import notified_state

    if fmt not in RISK_FORMATS:
        raise ValueError(f"format must be one of {', '.join(RISK_FORMATS)}, not {fmt!r}")
    day = as_day(as_of) if as_of is not None else None
    engine = open_history(settings)
    try:
        with Session(engine) as session:
            points = _stored_points(session, until=day)
            run = points[-1]
            assert run.run_id is not None
            costed = stored_as_costed(store.findings_of_run(session, run.run_id))
            trend = period_points(points, _risk_trend_start(run.as_of), run.as_of)
            view = risk_view(
                costed,
                as_of=run.as_of,
                notified=notified_state(session),
                trend=trend,
                response_days=settings.mail.response_days,
            )
    finally:
        engine.dispose()
    env = environment(settings.templates_dir)
    text = risk_html(view, env) if fmt == "html" else risk_markdown(view, env)
    path = _output(out, f"risk_{view.as_of.isoformat()}", fmt)
    write_text(path, text)
    return path


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
    settings = load_settings(config)
    folder = out if out is not None else settings.reports_dir
    if which == "finance":
        path = report_finance(settings, date_from=date_from, date_to=date_to, fmt=fmt, out=folder)
    else:
        path = report_risk(settings, as_of=as_of, fmt=fmt, out=folder)
    settings.file_modes.apply(path)
    print(f"{which} report written to {path}", file=stream or sys.stdout)
    return EXIT_OK


def _finance(args: argparse.Namespace) -> int:
    return report(
        args.config,
        "finance",
        fmt=args.fmt,
        out=args.out,
        date_from=args.date_from,
        date_to=args.date_to,
    )


def _risk(args: argparse.Namespace) -> int:
    return report(args.config, "risk", fmt=args.fmt, out=args.out, as_of=args.as_of)


_OUT = arg("--out", type=Path, help="file or folder to write (default: the reports folder)")

_FINANCE = Command(
    "finance",
    "avoidable cost at each month end of a period: by department and item, and the trend",
    (
        arg(
            "--from",
            dest="date_from",
            type=as_of_date,
            metavar="YYYY-MM-DD",
            help="first day of the period (default: the first stored run)",
        ),
        arg(
            "--to",
            dest="date_to",
            type=as_of_date,
            metavar="YYYY-MM-DD",
            help="last day of the period (default: the last stored run)",
        ),
        arg(
            "--format",
            dest="fmt",
            choices=list(FINANCE_FORMATS),
            default="html",
            help="csv (the summary at each month end), xlsx or html (default html)",
        ),
        _OUT,
    ),
    handler=_finance,
)

_RISK = Command(
    "risk",
    "for the steering committee: separated staff still holding access, departments "
    "that do not answer, reasons, trend",
    (
        arg(
            "--as-of",
            type=as_of_date,
            help="report the last run on or before this day, YYYY-MM-DD (default: the last run)",
        ),
        arg(
            "--format",
            dest="fmt",
            choices=list(RISK_FORMATS),
            default="html",
            help="html or markdown (default html)",
        ),
        _OUT,
    ),
    handler=_risk,
)

COMMANDS = (
    Command(
        "report",
        "finance and steering-committee reports from the run history",
        group=Group("report_command", "REPORT", "which report", (_FINANCE, _RISK)),
        config=False,
    ),
)
