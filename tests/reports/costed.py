"""Hand-built costed findings shared by the report and notice tests."""

from __future__ import annotations

from typing import Any

import pandas as pd

from licensewatch import model

AS_OF = pd.Timestamp("2019-12-31", tz="UTC")


def finding(
    resource_id: str,
    department: str,
    subject: str,
    *,
    kind: str = "license",
    name: str = "",
    reasons: str = "INACTIVE",
    item: str | None = "M365_E3",
    rate: int = 18960,
    accrued: int = 0,
    account_id: str | None = None,
    dormant_since: str | None = "2019-06-01",
    last_activity: str | None = None,
    separation: str | None = None,
    days: int = 0,
    status: str = "new",
) -> dict[str, Any]:
    """One costed finding; ``item=None`` makes it unpriced (zero costs)."""
    priced = item is not None
    return {
        "resource_id": resource_id,
        "resource_kind": kind,
        "subject": subject,
        "account_id": account_id
        if account_id is not None
        else (None if kind == "phone" else subject),
        "owner_upn": subject if kind == "license" else None,
        "display_name": name or None,
        "department": department,
        "reasons": reasons,
        "dormant_since": dormant_since,
        "last_activity_at": last_activity,
        "separation_date": separation,
        "match_key": "SPE_E3" if kind == "license" else "Cisco 8845",
        "days_dormant": days,
        "item": item,
        "item_description": "Microsoft 365 E3 licence" if priced else None,
        "annual_rate_cents": rate if priced else 0,
        "annual_cost_cents": rate if priced else 0,
        "accrued_cost_cents": accrued if priced else 0,
        "priced": priced,
        "status": status,
    }


def costed(*rows: dict[str, Any]) -> pd.DataFrame:
    """Rows as a frame with the COSTED_FINDINGS dtypes plus ``status``."""
    frame = pd.DataFrame(list(rows)) if rows else pd.DataFrame(columns=list(model.COSTED_FINDINGS))
    out = model.conform(frame, model.COSTED_FINDINGS)
    status = frame["status"] if "status" in frame.columns else pd.Series(dtype=object)
    return out.assign(status=status.astype(model.STRING).reset_index(drop=True))
