"""The Graph user properties the accounts pull reads, and how a licence's SKU id is taken.

Shared by the two readers of users pages: pages parsed as JSON objects
(:mod:`licensewatch.sources.graph.export`) and pages decoded into typed users
(:mod:`licensewatch.sources.graph.typed_page`).
"""

from __future__ import annotations

import sys
from typing import Any, Final

SIGNAL: Final = "signInActivity"
#: The users property selected with the users when seats are read (sources/graph/seats.py).
STATES_FIELD: Final = "licenseAssignmentStates"

#: Graph user property → ACCOUNTS column, for the plain text properties.
TEXT_FIELDS: Final = {
    "id": "account_id",
    "userPrincipalName": "upn",
    "mail": "mail",
    "employeeId": "employee_id",
    "displayName": "display_name",
    "department": "department",
    "userType": "user_type",
}
#: signInActivity property → ACCOUNTS column.
SIGN_IN_FIELDS: Final = {
    "lastSignInDateTime": "last_interactive_at",
    "lastNonInteractiveSignInDateTime": "last_noninteractive_at",
    "lastSuccessfulSignInDateTime": "last_successful_at",
}


def sku_id_of(value: Any) -> str | None:
    """An assigned licence's ``skuId`` as the pull keeps it: stripped, interned; else None."""
    # Interned: a million users share a handful of SKUs.
    return sys.intern(value.strip()) if isinstance(value, str) and value.strip() else None
