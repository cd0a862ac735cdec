"""A notice's rows as the templates and the attachment show them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import pandas as pd

from licensewatch import model
from licensewatch.notify.wording import reason_words, usd
from licensewatch.reports.csvsafe import csv_text
from licensewatch.reports.findings import costs_cents, money_column, unpriced_mask

ATTACHMENT_COLUMNS: Final = (
    "resource_id",
    "resource_kind",
    "subject",
    "display_name",
    "reasons",
    "dormant_since",
    "last_activity",
    "separation_date",
    "item",
    "annual_cost_usd",
    "decision",
    "justification",
    "keep_until",
)


def _dates(series: pd.Series) -> pd.Series:
    text: pd.Series = series.dt.strftime("%Y-%m-%d").astype(model.STRING)
    return text


def _optional(costed: pd.DataFrame, column: str, default: object) -> pd.Series:
    if column in costed.columns:
        return costed[column]
    return pd.Series(default, index=costed.index, dtype=object)


def prepare(costed: pd.DataFrame) -> pd.DataFrame:
    """The fields a notice shows, as text, sorted by annual cost (highest first)."""
    annual, accrued = costs_cents(costed)
    unpriced = unpriced_mask(costed)
    text = {c: costed[c].astype(model.STRING) for c in ("resource_id", "subject", "department")}
    asked = pd.to_datetime(_optional(costed, "first_notified_on", pd.NaT), utc=True)
    rows = pd.DataFrame(
        {
            **text,
            "resource_kind": costed["resource_kind"].astype(model.STRING),
            "account_id": costed["account_id"].astype(model.STRING).fillna(text["subject"]),
            "display_name": costed["display_name"].astype(model.STRING),
            "reasons": costed["reasons"].astype(model.STRING),
            "dormant_since": _dates(costed["dormant_since"]),
            "last_activity": _dates(costed["last_activity_at"]),
            "separation_date": _dates(costed["separation_date"]),
            "item": costed["item"].astype(model.STRING).mask(unpriced, pd.NA),
            "annual_cost_usd": money_column(annual),
            "annual_cents": annual,
            "accrued_cents": accrued,
            "cycle": _optional(costed, "cycle", "new").astype(model.STRING),
            "asked_on": _dates(asked),
            # The licensing group the licence is inherited from: the account leaves it (issue 17).
            "via_group": _optional(costed, "via_group", pd.NA).astype(model.STRING),
        }
    )
    return rows.sort_values(
        ["annual_cents", "subject", "resource_id"], ascending=[False, True, True], kind="stable"
    )


def _cell(value: object) -> str:
    return value if isinstance(value, str) else ""


def body_rows(rows: pd.DataFrame, language: str) -> list[dict[str, str]]:
    return [
        {
            "name": _cell(r["display_name"]),
            "subject": _cell(r["subject"]),
            "department": _cell(r["department"]),
            "kind": _cell(r["resource_kind"]),
            "reasons": reason_words(r["reasons"], language),
            "last_activity": _cell(r["last_activity"]),
            "separation_date": _cell(r["separation_date"]),
            "item": _cell(r["item"]),
            "annual_cost": usd(int(r["annual_cents"]), language),
            "asked_on": _cell(r["asked_on"]) if r["cycle"] != "new" else "",
            "via_group": _cell(r["via_group"]),
        }
        for r in rows.to_dict("records")
    ]


def rate_basis(rates: pd.DataFrame, items: Sequence[str], language: str) -> list[dict[str, str]]:
    """The rate-card rows in force that price this notice's findings."""
    used = rates[rates["item"].isin(list(items))].sort_values(["item", "effective_from"])
    return [
        {
            "item": _cell(r["item"]),
            "description": _cell(r["description"]),
            "annual_rate": usd(int(r["annual_rate_cents"]), language),
            "effective_from": _day(r["effective_from"]),
            "effective_to": _day(r["effective_to"]),
        }
        for r in used.to_dict("records")
    ]


def _day(value: object) -> str:
    return f"{value:%Y-%m-%d}" if isinstance(value, pd.Timestamp) and not pd.isna(value) else ""


def attachment_csv(rows: pd.DataFrame, *, with_department: bool) -> str:
    columns = list(ATTACHMENT_COLUMNS)
    if with_department:
        columns.insert(2, "department")
    table = rows.assign(decision="", justification="", keep_until="")
    return csv_text(table[columns])
