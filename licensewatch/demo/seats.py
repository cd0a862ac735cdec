"""The demo's seats: group-based licensing, one licence state in error, and subscriptions.

Drawn from a random stream of its own (``<seed>-seats``), after the users exist,
so the organization's accounts, licences and findings are those of the demo
without seats, to the cent. About 60% of the SPE_E3 licences and every
POWER_BI_PRO licence come from a licensing group (a few E3 holders have it
directly too); two accounts hold a group's E3 assignment in ``CountViolation``
(Graph lists it in ``licenseAssignmentStates``, not in ``assignedLicenses``).
Subscriptions renew 75 (SPE_E3), 200 (POWER_BI_PRO) and 300 (VISIOCLIENT) days
after the as-of date: one renewal inside the default 120-day horizon.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any, Final

from licensewatch.demo.common import guid
from licensewatch.demo.tables import E3, PBI

GRAPH: Final = "https://graph.microsoft.com/v1.0"
E3_GROUP_SHARE: Final = 0.6
BOTH_SHARE: Final = 0.03
ERRORS: Final = 2
#: Days from the as-of date to each SKU's renewal.
RENEWS_AFTER: Final = {"SPE_E3": 75, "POWER_BI_PRO": 200, "VISIOCLIENT": 300}


def _state(sku: str, group: str | None, state: str = "Active", error: str = "None") -> Any:
    # Graph spells a successful assignment's error "None" (a string).
    return {
        "assignedByGroup": group,
        "disabledPlans": [],
        "error": error,
        "lastUpdatedDateTime": "2019-01-07T09:00:00Z",
        "skuId": sku,
        "state": state,
    }


def add_group_licensing(seed: int, users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give every user ``licenseAssignmentStates``; returns the ``GET /groups/{id}`` answers."""
    rng = random.Random(f"{seed}-seats")
    e3_group, pbi_group = guid(rng), guid(rng)
    errors = 0
    for user in users:
        skus = [a["skuId"] for a in user["assignedLicenses"]]
        states = []
        for sku in skus:
            if sku == E3 and rng.random() < E3_GROUP_SHARE:
                states.append(_state(sku, e3_group))
                if rng.random() < BOTH_SHARE:
                    states.append(_state(sku, None))
            else:
                states.append(_state(sku, pbi_group if sku == PBI else None))
        if E3 not in skus and skus and errors < ERRORS and user["accountEnabled"]:
            states.append(_state(E3, e3_group, "Error", "CountViolation"))
            errors += 1
        user["licenseAssignmentStates"] = states
    return [
        {"@odata.context": f"{GRAPH}/$metadata#groups(id,displayName)/$entity", "id": gid,
         "displayName": name}
        for gid, name in ((e3_group, "LIC-M365-E3-Staff"), (pbi_group, "LIC-PowerBI-Pro"))
    ]  # fmt: skip


def subscriptions(skus_doc: dict[str, Any], as_of: date) -> dict[str, Any]:
    """The answer of ``GET /v1.0/directory/subscriptions`` for the SKUs of ``skus_doc``."""
    value = []
    for sku in skus_doc["value"]:
        part = sku["skuPartNumber"]
        renews = as_of + timedelta(days=RENEWS_AFTER.get(part, 365))
        created = date(renews.year - 2, renews.month, min(renews.day, 28))
        value.append(
            {
                "id": sku["subscriptionIds"][0],
                "commerceSubscriptionId": sku["subscriptionIds"][0],
                "createdDateTime": f"{created.isoformat()}T00:00:00Z",
                "isTrial": False,
                "nextLifecycleDateTime": f"{renews.isoformat()}T00:00:00Z",
                "ownerId": None,
                "ownerTenantId": None,
                "ownerType": None,
                "serviceStatus": [],
                "skuId": sku["skuId"],
                "skuPartNumber": part,
                "status": "Enabled",
                "totalLicenses": sku["prepaidUnits"]["enabled"],
            }
        )
    return {"@odata.context": f"{GRAPH}/$metadata#directory/subscriptions", "value": value}
