"""The workbook's "Seats and renewals" and "Renewals" sheets (as seats.csv and renewals.csv),
and "By decision and reason" (``reports.finance_figures``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import pandas as pd

from licensewatch.reports.finance_figures import FinanceFigures
from licensewatch.reports.seats import (
    RENEWALS_COLUMNS,
    SEATS_COLUMNS,
    SeatReport,
    renewals_csv_table,
    seats_csv_table,
)
from licensewatch.reports.sheets import (
    COUNT,
    DAY,
    MONEY,
    TEXT,
    Column,
    Sheet,
    day_text,
    int_text,
    money,
    money_text,
)

_KINDS: Final = {
    **dict.fromkeys(
        (
            "purchased",
            "assigned",
            "unassigned",
            "dormant",
            "approved_removal",
            "days_to_renewal",
            "total_licenses",
            "seats_to_cut",
        ),
        COUNT,
    ),
    **dict.fromkeys(
        ("annual_rate_usd", "unassigned_annual_usd", "dormant_annual_usd", "annual_saving_usd"),
        MONEY,
    ),
    "next_renewal": DAY,
    "renews_on": DAY,
}
_READ: Final[dict[str, Callable[[str], object]]] = {
    COUNT: int_text,
    MONEY: money_text,
    DAY: day_text,
}


def _rows(table: pd.DataFrame, names: tuple[str, ...]) -> list[list[object]]:
    kinds = [_KINDS.get(n, TEXT) for n in names]
    return [
        [_READ[k](v) if k in _READ else v for v, k in zip(row, kinds, strict=True)]
        for row in table[list(names)].itertuples(index=False)
    ]


def seat_sheets(seats: SeatReport) -> list[Sheet]:
    """The seats per SKU (with a total row) and the renewals within the horizon."""
    table = seats_csv_table(seats.seats)
    t = seats.totals()
    total: list[object] = [
        "Total",
        None,
        None,
        t["purchased"],
        t["assigned"],
        t["unassigned"],
        int(seats.seats["dormant"].sum()),
        int(seats.seats["approved_removal"].sum()),
        None,
        money_text(str(t["unassigned_annual_usd"])),
        money_text(str(t["dormant_annual_usd"])),
        None,
    ]
    columns = [Column(n, _KINDS.get(n, TEXT)) for n in SEATS_COLUMNS]
    renewals = renewals_csv_table(seats.renewals)
    return [
        Sheet("Seats and renewals", columns, _rows(table, SEATS_COLUMNS), total),
        Sheet(
            "Renewals",
            [Column(n, _KINDS.get(n, TEXT)) for n in RENEWALS_COLUMNS],
            _rows(renewals, RENEWALS_COLUMNS),
        ),
    ]


def figure_sheet(figures: FinanceFigures) -> Sheet:
    """One table: the amounts by decision, then by first reason, then month on month."""
    rows: list[list[object]] = [
        ["decision", a.label, a.findings, money(a.annual_cents)] for a in figures.by_decision
    ]
    rows += [["reason", a.label, a.findings, money(a.annual_cents)] for a in figures.by_reason]
    rows.append(["leavers", "SEPARATED", None, money(figures.leavers_cents)])
    mom = figures.month_on_month
    if mom is not None:
        rows.append(
            [
                "month on month",
                f"since {mom.previous_as_of.isoformat()}",
                None,
                money(mom.change_cents),
            ]
        )
    columns = [
        Column("figure", TEXT),
        Column("what", TEXT),
        Column("dormant_resources", COUNT),
        Column("annual_usd", MONEY),
    ]
    return Sheet("By decision and reason", columns, rows)
