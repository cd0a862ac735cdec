"""The demo's Graph export: users pages and subscribedSkus exactly as Graph returns them.

Pages hold 500 users (Graph's cap with ``signInActivity``) and link on with an
``@odata.nextLink`` carrying an opaque ``$skiptoken``, as the live API does.
"""

from __future__ import annotations

import base64
import random
from pathlib import Path
from typing import Any

from licensewatch.demo.common import guid
from licensewatch.demo.files import write_json
from licensewatch.demo.tables import SKUS

#: Graph's cap for users pages that select signInActivity, whatever $top asks.
PAGE_SIZE = 500
SELECT = (
    "id,userPrincipalName,mail,employeeId,displayName,department,accountEnabled,userType,"
    "createdDateTime,assignedLicenses,licenseAssignmentStates,signInActivity"
)
GRAPH = "https://graph.microsoft.com/v1.0"


def _skiptoken(user: dict[str, Any]) -> str:
    # Opaque to clients; shaped like Graph's (base64 of a cursor naming the last user).
    cursor = f"{user['userPrincipalName']})User_{user['id']}".encode()
    return base64.urlsafe_b64encode(b"DSpt\x02\x00\x01\x00\x00\x00#:" + cursor).decode().rstrip("=")


def write_pages(folder: Path, users: list[dict[str, Any]]) -> None:
    """``users_0001.json`` …: 500 users a page, a nextLink on every page but the last."""
    # Graph may end on an empty page; the export keeps one to exercise that.
    pages = [users[i : i + PAGE_SIZE] for i in range(0, len(users), PAGE_SIZE)] + [[]]
    for n, page in enumerate(pages, start=1):
        doc: dict[str, Any] = {"@odata.context": f"{GRAPH}/$metadata#users({SELECT})"}
        if n < len(pages):
            query = f"$select={SELECT}&$top={PAGE_SIZE}&$skiptoken={_skiptoken(page[-1])}"
            doc["@odata.nextLink"] = f"{GRAPH}/users?{query}"
        doc["value"] = page
        write_json(folder / f"users_{n:04d}.json", doc)


def subscribed_skus(rng: random.Random, users: list[dict[str, Any]]) -> dict[str, Any]:
    """The answer of ``GET /v1.0/subscribedSkus``, consumedUnits counted from the users."""
    consumed = dict.fromkeys(SKUS, 0)
    for user in users:
        for assigned in user["assignedLicenses"]:
            consumed[assigned["skuId"]] += 1
    tenant = guid(rng)
    value = []
    for sku, (part, plans) in SKUS.items():
        words = plans.split()
        used = consumed[sku]
        value.append(
            {
                "accountName": "Demo Organization",
                "accountId": tenant,
                "appliesTo": "User",
                "capabilityStatus": "Enabled",
                "consumedUnits": used,
                "id": f"{tenant}_{sku}",
                "prepaidUnits": {
                    "enabled": max(25, -(-used * 105 // 5000) * 50),
                    "lockedOut": 0,
                    "suspended": 0,
                    "warning": 0,
                },
                "servicePlans": [
                    {
                        "servicePlanId": plan_id,
                        "servicePlanName": name,
                        "provisioningStatus": "Success",
                        "appliesTo": "User",
                    }
                    for name, plan_id in zip(words[::2], words[1::2], strict=True)
                ],
                "skuId": sku,
                "skuPartNumber": part,
                "subscriptionIds": [guid(rng)],
            }
        )
    return {"@odata.context": f"{GRAPH}/$metadata#subscribedSkus", "value": value}
