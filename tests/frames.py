"""Small builders of canonical frames for unit tests (dtypes exactly as sources give them)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from licensewatch import model

#: The audit's count date.
AS_OF = pd.Timestamp("2019-12-31", tz="UTC")


def ts(text: str | None) -> pd.Timestamp | None:
    """A UTC timestamp from ISO text (None stays None)."""
    return None if text is None else pd.Timestamp(text, tz="UTC")


def days_ago(n: int) -> pd.Timestamp:
    """``n`` days before AS_OF (negative: after it)."""
    return AS_OF - pd.Timedelta(days=n)


def frame(schema: model.Schema, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A conformed frame from row dicts (missing columns NA)."""
    if not rows:
        return model.empty(schema)
    return model.conform(pd.DataFrame(rows), schema)


def account(n: int, **kw: Any) -> dict[str, Any]:
    """An enabled member account of Finance, active yesterday; keywords override."""
    row: dict[str, Any] = {
        "account_id": f"id-{n}",
        "upn": f"user{n}@contoso.org",
        "mail": f"user{n}@contoso.org",
        "employee_id": f"E{n}",
        "display_name": f"User {n}",
        "department": "Finance",
        "account_enabled": True,
        "user_type": "Member",
        "created_at": days_ago(1000),
        "last_interactive_at": days_ago(1),
        "last_noninteractive_at": None,
        "last_successful_at": days_ago(1),
    }
    row.update(kw)
    return row


def idle(n: int, days: int = 200, **kw: Any) -> dict[str, Any]:
    """An account whose last sign-in (of every kind) was ``days`` ago."""
    return account(n, last_interactive_at=days_ago(days), last_successful_at=days_ago(days), **kw)


def license(n: int, sku: str = "SPE_E3") -> dict[str, Any]:
    """Account ``n`` holds ``sku``."""
    return {"account_id": f"id-{n}", "sku_id": f"sku-{sku}", "sku_part_number": sku}


def phone(name: str, owner: str | None, **kw: Any) -> dict[str, Any]:
    """A registered phone in use today, owned by ``owner`` (an owner_user_id)."""
    row: dict[str, Any] = {
        "device_name": name,
        "description": f"{name} desk",
        "model": "Cisco 8845",
        "device_pool": "DP_HQ",
        "owner_user_id": owner,
        "directory_number": "1000",
        "registration_status": "registered",
        "status_changed_at": days_ago(30),
        "last_seen_at": AS_OF,
    }
    row.update(kw)
    return row


def separation(
    employee_id: str | None, email: str | None, when: pd.Timestamp, **kw: Any
) -> dict[str, Any]:
    """An HR separation record."""
    row: dict[str, Any] = {
        "employee_id": employee_id,
        "email": email,
        "name": "Leaver",
        "department": "HR-dept",
        "separation_date": when,
        "reason": "Resignation",
    }
    row.update(kw)
    return row


def exemption(subject: str, expires_on: pd.Timestamp) -> dict[str, Any]:
    """An exemption of ``subject`` (UPN or device name) holding until ``expires_on``."""
    return {
        "subject": subject,
        "reason": "justified",
        "approved_by": "focal.point@contoso.org",
        "expires_on": expires_on,
    }
