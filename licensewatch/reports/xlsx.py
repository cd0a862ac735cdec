"""finance_summary.xlsx: the finance view as a workbook finance can sort, filter and sum.

Sheets: ``Overview`` (headline figures; BRAKED in large letters when the
safety brake stopped the run), ``Summary`` (department × item, as
finance_summary.csv, with a total row), ``Departments``, ``Findings`` (as
findings.csv), ``Rate card`` (the rates in force), ``Trend`` and, for a run,
``Seats and renewals``, ``Renewals`` and ``By decision and reason``
(:mod:`licensewatch.reports.xlsx_seats`). Every table
is a :class:`~licensewatch.reports.sheets.Sheet` spec written by
:func:`licensewatch.reports.sheets.write_sheets` (XlsxWriter, constant memory):
typed cells, frozen header, filter, sized columns, text neutralized.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Final

import pandas as pd

from licensewatch.atomic import replacing
from licensewatch.progress import Progress
from licensewatch.reports import sheets
from licensewatch.reports.finance_view import FinanceView
from licensewatch.reports.sheets import (
    BOLD,
    COUNT,
    DAY,
    MONEY,
    TEXT,
    Book,
    Column,
    Sheet,
    Style,
    day_text,
    int_text,
    money,
    money_text,
    write_sheets,
)
from licensewatch.reports.xlsx_seats import figure_sheet, seat_sheets

_BRAKED_FONT: Final[Style] = {"bold": True, "size": 36, "font_color": "#C53030"}
_TITLE_FONT: Final[Style] = {"bold": True, "size": 16}
_RIGHT: Final[Style] = {"align": "right"}


def _overview(book: Book, view: FinanceView) -> None:
    ws = book.sheet("Overview")
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 22)
    lines: list[tuple[str, Style]] = []
    if view.braked_reason:
        ws.set_tab_color("#C53030")
        lines += [("BRAKED", _BRAKED_FONT), (f"Nothing was sent: {view.braked_reason}", BOLD)]
    lines.append((view.title, _TITLE_FONT))
    for row, (text, style) in enumerate(lines):
        book.cell(ws, (row, 0), text, TEXT, style)
    t = view.totals
    figures: list[tuple[str, object, str]] = [("As of", view.as_of, DAY)]
    if view.period is not None:
        figures += [("Period from", view.period[0], DAY), ("Period to", view.period[1], DAY)]
    figures += [
        ("Dormant accounts", t.dormant_accounts, COUNT),
        ("Dormant licences", t.license_findings, COUNT),
        ("Dormant phones", t.phone_findings, COUNT),
        ("Unpriced (not on the rate card)", t.unpriced_findings, COUNT),
        ("Annual avoidable cost (USD)", money(t.annual_avoidable_cents), MONEY),
        ("Accrued avoidable cost (USD)", money(t.accrued_avoidable_cents), MONEY),
        ("Realized savings to date (USD)", money(view.realized_savings_cents), MONEY),
    ]
    if len(view.findings) > sheets.MAX_ROWS:
        most = sheets.MAX_ROWS
        note = f"The Findings sheet lists the first {most:,} of {len(view.findings):,}"
        figures.append(("Findings sheet", note + " (findings.csv has all)", TEXT))
    for row, (label, value, kind) in enumerate(figures, start=len(lines)):
        book.cell(ws, (row, 0), label, TEXT)
        book.cell(ws, (row, 1), value, kind, _RIGHT)


def _summary_rows(view: FinanceView) -> tuple[list[list[object]], list[object]]:
    rows: list[list[object]] = [
        [
            r["department"],
            r["resource_kind"],
            r["item"],
            int(r["dormant_count"]),
            money_text(r["annual_rate_usd"]),
            money_text(r["annual_avoidable_usd"]),
            money_text(r["accrued_avoidable_usd"]),
        ]
        for r in view.summary.astype(object).to_dict("records")
    ]
    total: list[object] = [
        "Total",
        None,
        None,
        int(view.summary["dormant_count"].sum()),
        None,
        money(view.totals.annual_avoidable_cents),
        money(view.totals.accrued_avoidable_cents),
    ]
    return rows, total


_SUMMARY: Final = (
    Column("department", TEXT),
    Column("resource_kind", TEXT),
    Column("item", TEXT),
    Column("dormant_count", COUNT),
    Column("annual_rate_usd", MONEY),
    Column("annual_avoidable_usd", MONEY),
    Column("accrued_avoidable_usd", MONEY),
)
_FINDINGS_KINDS: Final = {
    "dormant_since": DAY,
    "days_dormant": COUNT,
    "annual_cost_usd": MONEY,
    "accrued_cost_usd": MONEY,
}


def _findings_rows(view: FinanceView) -> Iterable[list[object]]:
    convert: dict[str, Callable[[str], object]] = {
        DAY: day_text,
        COUNT: int_text,
        MONEY: money_text,
        TEXT: str,
    }
    findings = view.findings
    kinds = [_FINDINGS_KINDS.get(n, TEXT) for n in findings.columns]
    # A block of rows at a time, each column made Python values at once: iterating the
    # frame asks Arrow for one scalar a cell (3.7 of the finance child's 8 s at 1M).
    for start in range(0, len(findings), _ROWS_AT_A_TIME):
        block = findings.iloc[start : start + _ROWS_AT_A_TIME]
        columns = [block[name].tolist() for name in block.columns]
        for values in zip(*columns, strict=True):
            yield [convert[k](str(v)) for v, k in zip(values, kinds, strict=True)]


#: Findings rows made Python values at a time by :func:`_findings_rows`.
_ROWS_AT_A_TIME: Final = 10_000


def finance_workbook(view: FinanceView) -> bytes:
    """The workbook of ``view`` as XLSX bytes."""
    with tempfile.TemporaryDirectory(prefix="licensewatch-xlsx-") as folder:
        path = Path(folder) / "finance_summary.xlsx"
        _write(view, path)
        return path.read_bytes()


def _write(view: FinanceView, path: Path) -> None:
    with Book(path) as book:
        _overview(book, view)
        write_sheets(book, _sheets(view))


def _sheets(view: FinanceView) -> list[Sheet]:
    """The tables after the Overview, in order: one :class:`Sheet` spec each."""
    rows, total = _summary_rows(view)
    depts = [
        [d.department, d.dormant_accounts, d.license_findings, d.phone_findings,
         d.unpriced_findings, money(d.annual_avoidable_cents), money(d.accrued_avoidable_cents)]
        for d in view.departments
    ]  # fmt: skip
    t = view.totals
    findings_columns = [Column(n, _FINDINGS_KINDS.get(n, TEXT)) for n in view.findings.columns]
    return [
        Sheet("Summary", _SUMMARY, rows, total),
        Sheet(
            "Departments",
            [
                Column("department", TEXT),
                Column("dormant_accounts", COUNT),
                Column("license_findings", COUNT),
                Column("phone_findings", COUNT),
                Column("unpriced_findings", COUNT),
                Column("annual_avoidable_usd", MONEY),
                Column("accrued_avoidable_usd", MONEY),
            ],
            depts,
            [
                "Total",
                t.dormant_accounts,
                t.license_findings,
                t.phone_findings,
                t.unpriced_findings,
                money(t.annual_avoidable_cents),
                money(t.accrued_avoidable_cents),
            ],
        ),
        Sheet(
            "Findings",
            findings_columns,
            counted(
                _findings_rows(view),
                Progress("XLSX findings", total=len(view.findings), unit="rows", quiet=True),
            ),
        ),
        _rate_card_sheet(view),
        _trend_sheet(view),
        *(seat_sheets(view.seats) if view.seats is not None else ()),
        *([figure_sheet(view.figures)] if view.figures is not None else []),
    ]


def counted(rows: Iterable[list[object]], progress: Progress) -> Iterator[list[object]]:
    """``rows``, counted by ``progress`` (a terminal line, a log line every 30 s under cron)."""
    with progress:
        for row in rows:
            yield row
            progress.advance()


def _rate_card_sheet(view: FinanceView) -> Sheet:
    """The "Rate card" sheet: the rates in force."""
    return Sheet(
        "Rate card",
        [
            Column("item", TEXT),
            Column("description", TEXT),
            Column("resource_kind", TEXT),
            Column("matches", TEXT),
            Column("annual_rate_usd", MONEY),
            Column("effective_from", DAY),
            Column("effective_to", DAY),
        ],
        [
            [r["item"], r["description"], r["resource_kind"], r["matches"],
             money(int(r["annual_rate_cents"])), _day(r["effective_from"]),
             _day(r["effective_to"])]
            for r in view.rate_card.to_dict("records")
        ],
    )  # fmt: skip


def _trend_sheet(view: FinanceView) -> Sheet:
    """The "Trend" sheet: one row per day of the trend, with the figures of its run."""
    return Sheet(
        "Trend",
        [
            Column("date", DAY),
            Column("figures_as_of", DAY),
            Column("dormant_accounts", COUNT),
            Column("license_findings", COUNT),
            Column("phone_findings", COUNT),
            Column("separated_accounts", COUNT),
            Column("annual_avoidable_usd", MONEY),
            Column("accrued_avoidable_usd", MONEY),
        ],
        [
            [p.day, p.point.as_of, p.point.dormant_accounts, p.point.license_findings,
             p.point.phone_findings, p.point.separated_accounts,
             money(p.point.annual_avoidable_cents), money(p.point.accrued_avoidable_cents)]
            for p in view.trend
        ],
    )  # fmt: skip


def _day(value: object) -> date | None:
    """A rate-card timestamp (UTC midnight) as the date it names; NaT/NA as empty."""
    if not isinstance(value, pd.Timestamp) or pd.isna(value):
        return None
    return date(value.year, value.month, value.day)


def write_finance_xlsx(view: FinanceView, path: Path) -> None:
    """Write the workbook of ``view`` to ``path`` atomically (temp file in the folder, rename)."""
    with replacing(path) as tmp:
        _write(view, tmp)
