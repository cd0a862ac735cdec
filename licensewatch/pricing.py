"""Effective-dated rate card → costed findings. Pure: frames in, frames out, no clock, no I/O.

The price of a finding is the rate of the item in force on ``as_of`` whose
``matches`` holds the finding's ``match_key`` (SKU part number or phone model,
case-folded) for the same resource kind; an item matching ``*`` prices every
resource of its kind that no specific item matched. A finding no item prices is
kept, with item NA, cost 0 and ``priced`` False: reported, never silently zero.

Money is integer cents. The accrued cost is the annual rate pro rata over the
days since ``dormant_since`` (365-day year), rounded half up to the cent in
integer arithmetic, so that every total adds up exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from licensewatch import model

WILDCARD = "*"
DAYS_PER_YEAR = 365


def rates_in_force(rate_card: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The rate-card rows whose period covers ``as_of`` (``effective_to`` inclusive, NaT open)."""
    starts = rate_card["effective_from"] <= as_of
    ends = rate_card["effective_to"].isna() | (rate_card["effective_to"] >= as_of)
    return rate_card[starts & ends].reset_index(drop=True)


def _match_table(rates: pd.DataFrame) -> pd.DataFrame:
    """One row per (resource_kind, key) of the items in force; key "*" for wildcards."""
    keys = rates["matches"].fillna("").str.split(";")
    table = rates.assign(key=keys).explode("key")
    table["key"] = table["key"].astype(model.STRING).str.strip().str.casefold()
    table = table[table["key"].notna() & (table["key"] != "")]
    return table[["resource_kind", "key", "item", "description", "annual_rate_cents"]]


def price(findings: pd.DataFrame, rate_card: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Cost every finding from the rate card in force on ``as_of``; returns COSTED_FINDINGS."""
    table = _match_table(rates_in_force(rate_card, as_of))
    specific = table[table["key"] != WILDCARD].drop_duplicates(["resource_kind", "key"])
    wildcard = table[table["key"] == WILDCARD].drop_duplicates(["resource_kind"])

    frame = findings.reset_index(drop=True)
    keys = pd.DataFrame(
        {
            "resource_kind": frame["resource_kind"].astype(model.STRING),
            "key": model.norm_key(frame["match_key"]),
        }
    )
    exact = keys.merge(specific, on=["resource_kind", "key"], how="left")
    fallback = keys[["resource_kind"]].merge(
        wildcard.drop(columns="key"), on="resource_kind", how="left"
    )
    matched = exact["item"].notna()
    item = exact["item"].where(matched, fallback["item"])
    description = exact["description"].where(matched, fallback["description"])
    rate = exact["annual_rate_cents"].where(matched, fallback["annual_rate_cents"])
    priced = item.notna()
    annual = rate.where(priced, 0).fillna(0).astype("int64").to_numpy()

    since = frame["dormant_since"].dt.normalize()
    days = (as_of.normalize() - since).dt.days
    days = days.fillna(0).clip(lower=0).astype("int64").to_numpy()
    # Round half up: floor((2·a·d + 365) / (2·365)) with integers only.
    accrued = (2 * annual * days + DAYS_PER_YEAR) // (2 * DAYS_PER_YEAR)

    costed = frame.assign(
        days_dormant=days,
        item=item.astype(model.STRING).to_numpy(),
        item_description=description.astype(model.STRING).to_numpy(),
        annual_rate_cents=annual,
        annual_cost_cents=annual,
        accrued_cost_cents=accrued.astype(np.int64),
        priced=priced.to_numpy(),
    )
    return model.conform(costed, model.COSTED_FINDINGS)
