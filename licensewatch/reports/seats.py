"""seats.csv, renewals.csv and seat_errors.csv: what is paid against what is used.

:func:`seat_report` builds every seat figure of a run from its accounts pull
and its planned findings (:mod:`licensewatch.rules.seats` does the counting);
:func:`seats_csv_table` and friends turn them into the text rows the files
hold: money with two decimals, dates as YYYY-MM-DD, missing values empty.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pandas as pd

from licensewatch import model
from licensewatch.rules import seats as rules
from licensewatch.sources.graph.seats import NO_RENEWALS
from licensewatch.sources.interface import AccountsPull

SEATS_COLUMNS: Final = (
    "sku_id",
    "sku_part_number",
    "item",
    "purchased",
    "assigned",
    "unassigned",
    "dormant",
    "approved_removal",
    "annual_rate_usd",
    "unassigned_annual_usd",
    "dormant_annual_usd",
    "next_renewal",
)
RENEWALS_COLUMNS: Final = (
    "subscription_id",
    "sku_id",
    "sku_part_number",
    "item",
    "renews_on",
    "days_to_renewal",
    "total_licenses",
    "seats_to_cut",
    "annual_saving_usd",
)


@dataclass(frozen=True)
class SeatReport:
    """A run's seat figures: per SKU, renewals in the horizon, licence errors, warnings."""

    seats: pd.DataFrame
    renewals: pd.DataFrame
    errors: pd.DataFrame
    warnings: tuple[str, ...]
    #: Whether the pull read subscriptions (else there are no renewal dates).
    renewal_data: bool
    horizon_days: int

    def totals(self) -> dict[str, object]:
        """The seat totals for ``run_summary.json`` (money exact to the cent)."""
        seats = self.seats
        return {
            "skus": len(seats),
            "purchased": int(seats["purchased"].fillna(0).sum()),
            "assigned": int(seats["assigned"].fillna(0).sum()),
            "unassigned": int(seats["unassigned"].fillna(0).sum()),
            "unassigned_annual_usd": model.money(_sum(seats["unassigned_annual_cents"])),
            "dormant_annual_usd": model.money(_sum(seats["dormant_annual_cents"])),
            "licence_errors": len(self.errors),
            "renewal_data": self.renewal_data,
            **({} if self.renewal_data else {"renewal_note": NO_RENEWALS}),
            "renewal_horizon_days": self.horizon_days,
            "renewals_in_horizon": len(self.renewals),
            "renewal_seats_to_cut": int(self.renewals["seats_to_cut"].sum()),
            "renewal_annual_saving_usd": model.money(_sum(self.renewals["annual_saving_cents"])),
        }


def _sum(cents: pd.Series) -> int:
    return int(cents.fillna(0).astype("int64").sum())


def seat_report(
    pull: AccountsPull,
    planned: pd.DataFrame,
    *,
    rates_in_force: pd.DataFrame,
    as_of: pd.Timestamp,
    horizon_days: int,
) -> SeatReport:
    """Every seat figure of a run (see :mod:`licensewatch.rules.seats`)."""
    table, warnings = rules.seat_table(
        pull.seats,
        pull.licenses,
        planned,
        pull.subscriptions,
        pull.license_states,
        rates_in_force=rates_in_force,
        as_of=as_of,
    )
    due = rules.renewals(table, pull.subscriptions, as_of=as_of, horizon_days=horizon_days)
    errors = rules.license_errors(pull.license_states, table)
    return SeatReport(table, due, errors, warnings, pull.subscriptions is not None, horizon_days)


def _money(cents: pd.Series) -> pd.Series:
    return pd.Series(
        ["" if pd.isna(v) else model.money(int(v)) for v in cents], index=cents.index, dtype=object
    )


def _count(values: pd.Series) -> pd.Series:
    return pd.Series(
        ["" if pd.isna(v) else str(int(v)) for v in values], index=values.index, dtype=object
    )


def _day(values: pd.Series) -> pd.Series:
    text: pd.Series = values.dt.strftime("%Y-%m-%d").astype(object).fillna("")
    return text


def _text(values: pd.Series) -> pd.Series:
    return values.astype(model.STRING).fillna("").astype(object)


def seats_csv_table(seats: pd.DataFrame) -> pd.DataFrame:
    """The rows of seats.csv (:data:`SEATS_COLUMNS`), one per SKU."""
    return pd.DataFrame(
        {
            "sku_id": _text(seats["sku_id"]),
            "sku_part_number": _text(seats["sku_part_number"]),
            "item": _text(seats["item"]),
            "purchased": _count(seats["purchased"]),
            "assigned": _count(seats["assigned"]),
            "unassigned": _count(seats["unassigned"]),
            "dormant": _count(seats["dormant"]),
            "approved_removal": _count(seats["approved_removal"]),
            "annual_rate_usd": _money(seats["annual_rate_cents"]),
            "unassigned_annual_usd": _money(seats["unassigned_annual_cents"]),
            "dormant_annual_usd": _money(seats["dormant_annual_cents"]),
            "next_renewal": _day(seats["next_renewal"]),
        },
        columns=list(SEATS_COLUMNS),
    )


def renewals_csv_table(renewals: pd.DataFrame) -> pd.DataFrame:
    """The rows of renewals.csv (:data:`RENEWALS_COLUMNS`), earliest renewal first."""
    return pd.DataFrame(
        {
            "subscription_id": _text(renewals["subscription_id"]),
            "sku_id": _text(renewals["sku_id"]),
            "sku_part_number": _text(renewals["sku_part_number"]),
            "item": _text(renewals["item"]),
            "renews_on": _day(renewals["renews_on"]),
            "days_to_renewal": _count(renewals["days_to_renewal"]),
            "total_licenses": _count(renewals["total_licenses"]),
            "seats_to_cut": _count(renewals["seats_to_cut"]),
            "annual_saving_usd": _money(renewals["annual_saving_cents"]),
        },
        columns=list(RENEWALS_COLUMNS),
    )


def errors_csv_table(errors: pd.DataFrame) -> pd.DataFrame:
    """The rows of seat_errors.csv: licence assignments Graph holds in error."""
    return pd.DataFrame({c: _text(errors[c]) for c in rules.ERROR_ROWS})


def _cents(values: pd.Series) -> pd.Series:
    """Decimal text ("189.60") back to integer cents, exactly; empty as NA."""
    out: list[object] = []
    for text in values.fillna(""):
        if not text:
            out.append(pd.NA)
            continue
        whole, _, frac = str(text).lstrip("-").partition(".")
        cents = int(whole) * 100 + int((frac + "00")[:2])
        out.append(-cents if str(text).startswith("-") else cents)
    return pd.Series(out, index=values.index, dtype="Int64")


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def read_seat_report(folder: Path) -> SeatReport | None:
    """The seat figures a run wrote into ``folder`` (``report finance``), None if it wrote none."""
    seats_path, summary_path = folder / "seats.csv", folder / "run_summary.json"
    if not seats_path.is_file() or not summary_path.is_file():
        return None
    block = json.loads(summary_path.read_text(encoding="utf-8")).get("seats", {})
    raw = _read(seats_path)
    counts = ("purchased", "assigned", "unassigned", "dormant", "approved_removal")
    money = {
        "annual_rate_usd": "annual_rate_cents",
        "unassigned_annual_usd": "unassigned_annual_cents",
        "dormant_annual_usd": "dormant_annual_cents",
    }
    seats = raw.assign(
        **{c: pd.to_numeric(raw[c].replace("", None)).astype("Int64") for c in counts},
        **{cents: _cents(raw[text]) for text, cents in money.items()},
        next_renewal=pd.to_datetime(raw["next_renewal"].replace("", None), utc=True),
        errors=0,
    )
    errors_path, renewals_path = folder / "seat_errors.csv", folder / "renewals.csv"
    errors = _read(errors_path) if errors_path.is_file() else model.empty(rules.ERROR_ROWS)
    per_sku = errors["sku_id"].value_counts()
    seats["errors"] = seats["sku_id"].map(per_sku).fillna(0).astype("int64")
    renewals = (
        _read(renewals_path)
        if renewals_path.is_file()
        else pd.DataFrame(columns=list(RENEWALS_COLUMNS))
    )
    renewals = renewals.assign(
        renews_on=pd.to_datetime(renewals["renews_on"], utc=True),
        annual_saving_cents=_cents(renewals["annual_saving_usd"]),
        **{
            c: renewals[c].astype("int64")
            for c in ("days_to_renewal", "total_licenses", "seats_to_cut")
        },
    )
    return SeatReport(
        model.conform(seats, rules.SEAT_ROWS),
        model.conform(renewals, rules.RENEWAL_ROWS),
        model.conform(errors, rules.ERROR_ROWS),
        (),
        bool(block.get("renewal_data", False)),
        int(block.get("renewal_horizon_days", 0)),
    )
