"""Costed findings frames for the storage tests, built the way pricing returns them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from licensewatch import model

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def costed(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """COSTED_FINDINGS plus ``status`` from a few hand-written rows; omitted values get defaults."""
    defaults: dict[str, Any] = {
        "resource_kind": "license",
        "department": "Finance",
        "reasons": "INACTIVE",
        "days_dormant": 100,
        "annual_rate_cents": 18960,
        "annual_cost_cents": 18960,
        "accrued_cost_cents": 5194,
        "priced": True,
        "status": "new",
    }
    full = [{**defaults, "subject": r["resource_id"].split(":")[1], **r} for r in rows]
    frame = pd.DataFrame(full)
    out = model.conform(frame, model.COSTED_FINDINGS)
    return out.assign(status=frame["status"].astype(model.STRING))


def many(n: int, prefix: str = "acc") -> pd.DataFrame:
    """``n`` distinct licence findings, vectorized (fast enough for 60k rows)."""
    i = np.arange(n)
    ids = pd.Series([f"{prefix}{k}" for k in i], dtype=model.STRING)
    frame = pd.DataFrame(
        {
            "resource_id": "license:" + ids + ":sku-e3",
            "resource_kind": "license",
            "subject": ids + "@example.org",
            "account_id": ids,
            "owner_upn": (ids + "@example.org").mask(i % 7 == 0),
            "display_name": "Person " + ids,
            "department": pd.Series([f"D{k % 40:02d}" for k in i], dtype=model.STRING),
            "reasons": "INACTIVE",
            "dormant_since": T0 + pd.to_timedelta(i % 365, unit="D"),
            "match_key": "SPE_E3",
            "days_dormant": (i % 365).astype("int64"),
            "item": pd.Series("M365-E3", index=i, dtype=model.STRING).mask(i % 50 == 0),
            "annual_rate_cents": np.full(n, 18960, dtype="int64"),
            "annual_cost_cents": np.full(n, 18960, dtype="int64"),
            "accrued_cost_cents": (i % 365 * 52).astype("int64"),
            "priced": i % 50 != 0,
        }
    )
    out = model.conform(frame, model.COSTED_FINDINGS)
    return out.assign(status=pd.Series("new", index=out.index, dtype=model.STRING))
