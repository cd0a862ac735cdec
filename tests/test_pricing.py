"""Pricing: effective dates, specific vs wildcard items, unpriced findings, exact accrued cents."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from licensewatch import model
from licensewatch.pricing import price, rates_in_force
from tests.frames import AS_OF, frame, ts

CARD = [
    {
        "item": "M365_E3",
        "description": "E3",
        "resource_kind": "license",
        "matches": "SPE_E3",
        "annual_rate_cents": 18960,
        "effective_from": ts("2016-01-01"),
        "effective_to": ts("2019-06-30"),
    },
    {
        "item": "M365_E3",
        "description": "E3",
        "resource_kind": "license",
        "matches": "SPE_E3",
        "annual_rate_cents": 20000,
        "effective_from": ts("2019-07-01"),
        "effective_to": None,
    },
    {
        "item": "PHONE",
        "description": "IP phone",
        "resource_kind": "phone",
        "matches": "*",
        "annual_rate_cents": 23000,
        "effective_from": ts("2016-01-01"),
        "effective_to": None,
    },
    {
        "item": "PHONE_VIDEO",
        "description": "Video phone",
        "resource_kind": "phone",
        "matches": "Cisco 8865; cisco 9971",
        "annual_rate_cents": 41000,
        "effective_from": ts("2016-01-01"),
        "effective_to": None,
    },
]


def finding(
    kind: str, key: str | None, since: str | None = "2019-06-01T08:00:00Z", **kw: Any
) -> dict[str, Any]:
    row = {
        "resource_id": f"{kind}:{key}:{since}",
        "resource_kind": kind,
        "subject": "x",
        "department": "Finance",
        "reasons": "INACTIVE",
        "dormant_since": ts(since) if since else None,
        "match_key": key,
    }
    row.update(kw)
    return row


def priced(rows: list[dict[str, Any]], as_of: pd.Timestamp = AS_OF) -> pd.DataFrame:
    return price(frame(model.FINDINGS, rows), frame(model.RATE_CARD, CARD), as_of)


@pytest.mark.parametrize(
    ("as_of", "rate"),
    [("2019-06-30", 18960), ("2019-07-01", 20000), ("2016-01-01", 18960), ("2030-01-01", 20000)],
)
def test_the_rate_in_force_on_as_of_prices_the_finding(as_of: str, rate: int) -> None:
    out = priced([finding("license", "SPE_E3", "2015-01-01")], ts(as_of))
    assert out.loc[0, "annual_cost_cents"] == rate and out.loc[0, "item"] == "M365_E3"


def test_before_any_period_the_finding_is_unpriced_not_zero_silently() -> None:
    out = priced([finding("license", "SPE_E3", "2010-01-01")], ts("2015-12-31"))
    assert not out.loc[0, "priced"]
    assert pd.isna(out.loc[0, "item"]) and out.loc[0, "annual_cost_cents"] == 0


def test_rates_in_force_includes_the_last_day_and_excludes_the_next() -> None:
    card = frame(model.RATE_CARD, CARD)
    assert set(rates_in_force(card, ts("2019-06-30"))["annual_rate_cents"]) == {18960, 23000, 41000}
    assert set(rates_in_force(card, ts("2019-07-01"))["annual_rate_cents"]) == {20000, 23000, 41000}


def test_specific_models_beat_the_wildcard_case_insensitively() -> None:
    out = priced(
        [finding("phone", "CISCO 9971"), finding("phone", "Cisco 7841"), finding("phone", None)]
    )
    assert list(out["item"]) == ["PHONE_VIDEO", "PHONE", "PHONE"]
    assert list(out["annual_cost_cents"]) == [41000, 23000, 23000]


def test_unknown_and_missing_skus_are_unpriced_and_kept() -> None:
    out = priced([finding("license", "POWER_BI_PRO"), finding("license", None)])
    assert len(out) == 2
    assert out["item"].isna().all() and not out["priced"].any()
    assert list(out["annual_cost_cents"]) == [0, 0] and list(out["accrued_cost_cents"]) == [0, 0]


def test_days_are_calendar_days_and_accrued_rounds_to_the_nearest_cent() -> None:
    out = priced(
        [
            finding("license", "SPE_E3", "2019-06-01T08:00:00Z"),
            finding("license", "SPE_E3", "2019-12-30T23:59:00Z"),
            finding("license", "SPE_E3", "2020-02-01"),
            finding("license", "SPE_E3", None),
        ]
    )
    assert list(out["days_dormant"]) == [213, 1, 0, 0]
    # 20000 × 213 / 365 = 11671.23 → 11671; 20000 / 365 = 54.79 → 55 (rounded up).
    assert list(out["accrued_cost_cents"]) == [11671, 55, 0, 0]


def test_output_has_the_costed_schema() -> None:
    out = priced([finding("license", "SPE_E3")])
    assert dict(out.dtypes.astype(str)) == {
        col: str(pd.api.types.pandas_dtype(dtype)) for col, dtype in model.COSTED_FINDINGS.items()
    }
