"""Pricing: effective dates, specific vs wildcard items, unpriced findings, exact integer cents."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from licensewatch import model
from licensewatch.rules.pricing import MAX_ANNUAL_RATE_CENTS, price, rates_in_force
from tests.frames import AS_OF, frame, ts


def item(name: str, kind: str, matches: str, cents: int, start: str, end: str | None = None) -> Any:
    return {
        "item": name,
        "description": f"{name} (rate card)",
        "resource_kind": kind,
        "matches": matches,
        "annual_rate_cents": cents,
        "effective_from": ts(start),
        "effective_to": ts(end),
    }


CARD = [
    # The E3 rate changes on 2019-07-01.
    item("M365_E3", "license", "SPE_E3", 18960, "2016-01-01", "2019-06-30"),
    item("M365_E3", "license", "SPE_E3", 20000, "2019-07-01"),
    item("PHONE", "phone", "*", 23000, "2016-01-01"),
    item("PHONE_VIDEO", "phone", " Cisco 8865;cisco 9971 ", 41000, "2016-01-01"),
]


def finding(kind: str, key: str | None, since: str | None = "2019-06-01", **kw: Any) -> Any:
    row = {
        "resource_id": f"{kind}:{key}:{since}",
        "resource_kind": kind,
        "subject": "someone",
        "department": "Finance",
        "reasons": "INACTIVE",
        "dormant_since": ts(since),
        "match_key": key,
    }
    row.update(kw)
    return row


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def priced(rows: list[Any], as_of: pd.Timestamp = AS_OF, card: Any = None) -> pd.DataFrame:
    return price(frame(model.FINDINGS, rows), frame(model.RATE_CARD, card or CARD), as_of)


@pytest.mark.parametrize(
    ("as_of", "rates"),
    [
        ("2015-12-31", set()),  # before every period: nothing in force
        ("2016-01-01", {18960, 23000, 41000}),  # first day of a period
        ("2019-06-30", {18960, 23000, 41000}),  # last day of a period (inclusive)
        ("2019-07-01", {20000, 23000, 41000}),  # first day of the next one
        ("2030-01-01", {20000, 23000, 41000}),  # open-ended
    ],
)
def test_rates_in_force(as_of: str, rates: set[int]) -> None:
    in_force = rates_in_force(frame(model.RATE_CARD, CARD), day(as_of))
    assert set(in_force["annual_rate_cents"]) == rates
    assert list(in_force.columns) == list(model.RATE_CARD)


@pytest.mark.parametrize(
    ("as_of", "rate"),
    [("2016-01-01", 18960), ("2019-06-30", 18960), ("2019-07-01", 20000), ("2030-01-01", 20000)],
)
def test_the_rate_in_force_on_as_of_prices_the_finding(as_of: str, rate: int) -> None:
    out = priced([finding("license", "SPE_E3", "2015-01-01")], day(as_of))
    assert (out.loc[0, "item"], out.loc[0, "item_description"]) == (
        "M365_E3",
        "M365_E3 (rate card)",
    )
    assert out.loc[0, "annual_rate_cents"] == out.loc[0, "annual_cost_cents"] == rate
    assert out.loc[0, "priced"]


def test_before_any_period_a_finding_is_unpriced_not_silently_zero() -> None:
    out = priced([finding("license", "SPE_E3", "2010-01-01")], day("2015-12-31"))
    assert not out.loc[0, "priced"] and pd.isna(out.loc[0, "item"])
    assert pd.isna(out.loc[0, "item_description"])
    assert (out.loc[0, "annual_cost_cents"], out.loc[0, "accrued_cost_cents"]) == (0, 0)


@pytest.mark.parametrize(
    ("kind", "key", "expected"),
    [
        ("phone", "CISCO 9971", "PHONE_VIDEO"),  # specific beats the wildcard, case-folded
        ("phone", " cisco 8865", "PHONE_VIDEO"),
        ("phone", "Cisco 7841", "PHONE"),  # the wildcard takes what no item names
        ("phone", None, "PHONE"),
        ("license", "SPE_E3", "M365_E3"),
        ("license", "POWER_BI_PRO", None),  # no licence wildcard: unpriced
        ("license", None, None),
        ("license", "Cisco 8865", None),  # keys only match within their resource kind
    ],
)
def test_specific_wildcard_and_unpriced(kind: str, key: str | None, expected: str | None) -> None:
    out = priced([finding(kind, key)])
    assert len(out) == 1
    if expected is None:
        assert pd.isna(out.loc[0, "item"]) and not out.loc[0, "priced"]
        assert (out.loc[0, "annual_rate_cents"], out.loc[0, "accrued_cost_cents"]) == (0, 0)
    else:
        assert out.loc[0, "item"] == expected and out.loc[0, "priced"]


def test_a_licence_wildcard_prices_unknown_skus_but_not_phones() -> None:
    card = [*CARD, item("OTHER_LICENCE", "license", "*", 1000, "2016-01-01")]
    out = priced(
        [
            finding("license", "POWER_BI_PRO"),
            finding("license", None),
            finding("license", "SPE_E3"),
        ],
        card=card,
    )
    assert list(out["item"]) == ["OTHER_LICENCE", "OTHER_LICENCE", "M365_E3"]


def test_a_key_two_items_price_at_once_goes_to_the_first_listed() -> None:
    # The rate-card reader refuses such a card; pricing still stays deterministic.
    card = [*CARD, item("E3_AGAIN", "license", "spe_e3", 1, "2016-01-01")]
    assert list(priced([finding("license", "SPE_E3")], card=card)["item"]) == ["M365_E3"]
    card = [item("E3_AGAIN", "license", "spe_e3", 1, "2016-01-01"), *CARD]
    assert list(priced([finding("license", "SPE_E3")], card=card)["item"]) == ["E3_AGAIN"]


def test_every_finding_is_kept_in_order_with_its_columns() -> None:
    rows = [finding("license", "X", resource_id=f"r{n}", subject=f"s{n}") for n in range(5)]
    out = priced(rows)
    assert list(out["resource_id"]) == [f"r{n}" for n in range(5)]
    assert list(out["subject"]) == [f"s{n}" for n in range(5)]
    assert dict(out.dtypes.astype(str)) == {
        col: str(pd.api.types.pandas_dtype(dtype)) for col, dtype in model.COSTED_FINDINGS.items()
    }
    empty = priced([])
    assert empty.empty and list(empty.columns) == list(model.COSTED_FINDINGS)


@pytest.mark.parametrize(
    ("since", "days"),
    [
        ("2019-06-01T08:00:00Z", 213),  # calendar days: the dates a report shows
        ("2019-06-01T00:00:00Z", 213),
        ("2018-12-31T23:59:59Z", 365),
        ("2019-12-30T23:59:00Z", 1),
        ("2019-12-31", 0),
        ("2019-12-31T12:00:00Z", 0),
        ("2020-02-01", 0),  # after as_of: never negative
        (None, 0),
    ],
)
def test_days_dormant_are_calendar_days(since: str | None, days: int) -> None:
    out = priced([finding("license", "SPE_E3", since)])
    assert out.loc[0, "days_dormant"] == days
    assert out.loc[0, "accrued_cost_cents"] == (2 * 20000 * days + 365) // 730


@pytest.mark.parametrize(
    ("rate", "days", "accrued"),
    [
        # 20000 × 213 / 365 = 11671.23 → 11671
        (20000, 213, 11671),
        # 183 / 365 = 0.5014 → 1 (half up; truncating would give 0)
        (183, 1, 1),
        # 182 / 365 = 0.4986 → 0 (rounding up would give 1)
        (182, 1, 0),
        # 18960 × 1 / 365 = 51.945 → 52
        (18960, 1, 52),
        # A whole year is exactly the annual rate.
        (18960, 365, 18960),
        (23000, 730, 46000),
    ],
)
def test_accrued_rounds_half_up_to_the_cent(rate: int, days: int, accrued: int) -> None:
    card = [item("X", "license", "SKU", rate, "2000-01-01")]
    since = (AS_OF - pd.Timedelta(days=days)).isoformat()
    out = priced([finding("license", "SKU", since)], card=card)
    assert (out.loc[0, "days_dormant"], out.loc[0, "accrued_cost_cents"]) == (days, accrued)
    assert out.loc[0, "annual_cost_cents"] == out.loc[0, "annual_rate_cents"] == rate


@given(
    rate=st.integers(min_value=0, max_value=10_000_000),
    days=st.integers(min_value=0, max_value=40_000),
)
def test_accrued_is_exact_rational_rounding(rate: int, days: int) -> None:
    card = [item("X", "license", "SKU", rate, "2000-01-01")]
    since = (AS_OF - pd.Timedelta(days=days)).isoformat()
    out = priced([finding("license", "SKU", since)], card=card)
    exact = Fraction(rate * days, 365)
    half_up = (exact + Fraction(1, 2)).__floor__()
    assert out.loc[0, "accrued_cost_cents"] == half_up


def test_totals_are_exact_integers() -> None:
    # 10,000 E3 licences dormant 100 days and 5,000 phones dormant 1 day.
    rows = [finding("license", "SPE_E3", "2019-09-22")] * 10_000
    rows += [finding("phone", "Cisco 7841", "2019-12-30")] * 5_000
    out = priced(rows)
    assert out["annual_cost_cents"].dtype == "int64" and out["accrued_cost_cents"].dtype == "int64"
    assert int(out["annual_cost_cents"].sum()) == 10_000 * 20000 + 5_000 * 23000
    # 20000 × 100 / 365 = 5479.45 → 5479; 23000 / 365 = 63.01 → 63
    assert int(out["accrued_cost_cents"].sum()) == 10_000 * 5479 + 5_000 * 63
    assert model.money(int(out["annual_cost_cents"].sum())) == "3150000.00"


def test_the_highest_rate_on_the_oldest_date_is_exact_and_positive() -> None:
    # Year 1 (Graph's "never" sentinel) is some 737,000 days back; int64 must not wrap.
    card = [item("X", "license", "SKU", MAX_ANNUAL_RATE_CENTS, "2000-01-01")]
    out = priced([finding("license", "SKU", "0001-01-01T00:00:00Z")] * 1_000, card=card)
    days = (AS_OF.date() - date(1, 1, 1)).days
    assert out["days_dormant"].tolist() == [days] * 1_000
    one = (Fraction(MAX_ANNUAL_RATE_CENTS * days, 365) + Fraction(1, 2)).__floor__()
    assert out["accrued_cost_cents"].tolist() == [one] * 1_000
    assert int(out["accrued_cost_cents"].sum()) == 1_000 * one > 0


@pytest.mark.parametrize("cents", [MAX_ANNUAL_RATE_CENTS + 1, 5 * 10**18, -1])
def test_price_refuses_a_rate_outside_the_bound(cents: int) -> None:
    card = [item("X", "license", "SKU", cents, "2000-01-01")]
    with pytest.raises(ValueError, match="annual rates must be 0 to 100000000 cents"):
        priced([finding("license", "SKU")], card=card)
