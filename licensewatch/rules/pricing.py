"""Effective-dated rate card → costed findings. Pure: frames in, frames out, no clock, no I/O.

A finding is priced by the rate-card item in force on ``as_of``
(``effective_from <= as_of <= effective_to``, compared as dates; an empty
``effective_to`` is open-ended) whose ``matches`` lists the finding's
``match_key`` (SKU part number or phone model, case-folded) for the same
resource kind. An item whose ``matches`` is "*" prices every resource of its
kind that no specific item matched. A finding no item prices is kept as
unpriced (item NA, rate and costs 0, ``priced`` False): reported, never
silently zero.

Money is integer cents. ``annual_cost_cents`` is the item's annual rate (the
run rate the audit quotes). ``days_dormant`` is the number of days from the
date of ``dormant_since`` to ``as_of`` (0 when unknown or in the future), and
``accrued_cost_cents`` is ``annual_rate_cents × days_dormant / 365`` rounded
half up to the cent, computed in integers so that every total adds up exactly.

Rates are bounded (:data:`MAX_ANNUAL_RATE_CENTS`, checked where the rate card
is read) so that this integer arithmetic cannot overflow int64: a
``dormant_since`` is a ``datetime64[us]``, which reaches back 292,471 years,
so ``days_dormant`` is below 1.1e8 and ``2 × rate × days`` below 2.2e16, far
under int64's 9.2e18. One finding then accrues at most 3.0e13 cents, so a
total stays exact over 300,000 findings even of that absurd age (and over
800 million findings dormant since 1990 or later).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from licensewatch import model

WILDCARD: Final = "*"
DAYS_PER_YEAR: Final = 365
#: The highest annual rate one rate-card item may have: USD 1,000,000.00 per unit per year.
MAX_ANNUAL_RATE_CENTS: Final = 100_000_000
_DAY: Final = np.timedelta64(1, "D")


def rates_in_force(rate_card: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The RATE_CARD rows whose period covers ``as_of`` (``effective_to`` inclusive, NaT open)."""
    card = model.conform(rate_card, model.RATE_CARD)
    day = as_of.tz_convert("UTC").normalize()
    starts = card["effective_from"].dt.normalize() <= day
    ends = card["effective_to"].dt.normalize()
    in_force = (starts & (ends.isna() | (day <= ends))).to_numpy(bool)
    in_force_rows: pd.DataFrame = card.loc[in_force]
    return in_force_rows.reset_index(drop=True)


def price(findings: pd.DataFrame, rate_card: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Cost every finding from the rate card in force on ``as_of``; returns COSTED_FINDINGS."""
    found = model.conform(findings, model.FINDINGS)
    rates = rates_in_force(rate_card, as_of)
    rate_row = _rate_rows(found, rates)
    annual = np.append(rates["annual_rate_cents"].to_numpy(np.int64), 0)[rate_row]
    if annual.size and not 0 <= int(annual.min()) <= int(annual.max()) <= MAX_ANNUAL_RATE_CENTS:
        # read_rate_card refuses such rates with file, row and column; this guards other callers.
        raise ValueError(f"annual rates must be 0 to {MAX_ANNUAL_RATE_CENTS} cents")
    days = _days_dormant(found["dormant_since"], as_of)
    # Half up: floor(a·d/365 + 1/2) = floor((2·a·d + 365) / 730), in integers.
    accrued = (2 * annual * days + DAYS_PER_YEAR) // (2 * DAYS_PER_YEAR)
    costed = found.assign(
        days_dormant=days,
        item=rates["item"].array.take(rate_row, allow_fill=True),
        item_description=rates["description"].array.take(rate_row, allow_fill=True),
        annual_rate_cents=annual,
        annual_cost_cents=annual,
        accrued_cost_cents=accrued,
        priced=rate_row >= 0,
    )
    return model.conform(costed, model.COSTED_FINDINGS)


def _rate_rows(found: pd.DataFrame, rates: pd.DataFrame) -> np.ndarray:
    """Per finding, the row of ``rates`` that prices it, or -1 when none does."""
    keys = (
        pd.DataFrame(
            {
                "kind": model.norm_key(rates["resource_kind"]),
                "key": rates["matches"].str.split(";"),
                "row": np.arange(len(rates)),
            }
        )
        .explode("key")
        .astype({"key": model.STRING})
    )
    keys["key"] = model.norm_key(keys["key"])
    # The rate-card reader forbids two items pricing one key at once; if a card
    # still does, the first row wins so that the result stays deterministic.
    keys = keys.dropna().drop_duplicates(["kind", "key"])
    wildcard = keys["key"] == WILDCARD
    specific = pd.Series(
        keys.loc[~wildcard, "row"].to_numpy(),
        index=pd.MultiIndex.from_frame(keys.loc[~wildcard, ["kind", "key"]]),
    )
    fallback = pd.Series(keys.loc[wildcard, "row"].to_numpy(), index=keys.loc[wildcard, "kind"])
    # Few distinct kinds and keys: look each (kind, key) pair up once.
    kind = _fold_few(found["resource_kind"])
    key = _fold_few(found["match_key"])
    codes, pairs = pd.factorize(pd.MultiIndex.from_arrays([kind, key]))
    pair_kind = pairs.get_level_values(0)
    exact = specific.reindex(pairs).to_numpy(dtype=float)
    wild = fallback.reindex(pair_kind).to_numpy(dtype=float)
    chosen = np.where(np.isnan(exact), wild, exact)
    per_pair = np.append(np.nan_to_num(chosen, nan=-1).astype(np.int64), -1)
    return per_pair[codes]


def _fold_few(series: pd.Series) -> pd.Series:
    """``model.norm_key`` computed once per distinct value."""
    codes, uniques = pd.factorize(series.astype(model.STRING))
    folded = model.norm_key(pd.Series(uniques, dtype=model.STRING)).array
    return pd.Series(folded.take(codes, allow_fill=True), dtype=model.STRING)


def _days_dormant(since: pd.Series, as_of: pd.Timestamp) -> np.ndarray:
    """Calendar days from ``since``'s UTC date to ``as_of``'s; 0 when unknown or after ``as_of``.

    Reports show ``dormant_since`` as a date, so the count is the difference of
    the two dates a reader sees (a sign-in on 1 June at 08:00 is 213 days
    before 31 December).
    """
    start = since.dt.floor("D").dt.tz_convert(None).to_numpy(dtype="datetime64[us]")
    day = as_of.tz_convert("UTC").normalize().tz_localize(None).as_unit("us").to_datetime64()
    elapsed = np.datetime64(day) - start
    known = ~np.isnat(elapsed)
    whole = np.zeros(len(elapsed), np.int64)
    whole[known] = elapsed[known] // _DAY
    return np.maximum(whole, 0).astype(np.int64)
