"""A tiny organization written in the real source formats, for end-to-end tests.

As of 2019-12-31 it holds exactly the findings listed in ``EXPECTED``; tests
change one file at a time to exercise a path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

AS_OF = "2019-12-31"
E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"
PBI = "f8a1db68-be16-40ed-86d5-cb42ce701560"
SELECT = (
    "id,userPrincipalName,mail,employeeId,displayName,department,accountEnabled,userType,"
    "createdDateTime,assignedLicenses,signInActivity"
)


def _signin(last: str, success: str | None = None) -> dict[str, str]:
    return {
        "lastSignInDateTime": last,
        "lastSignInRequestId": "20a94b1b-ade2-4f4e-9c55-609f7cd97600",
        "lastNonInteractiveSignInDateTime": "0001-01-01T00:00:00Z",
        "lastNonInteractiveSignInRequestId": "",
        "lastSuccessfulSignInDateTime": last if success is None else success,
        "lastSuccessfulSignInRequestId": "",
    }


def _user(
    n: int,
    name: str,
    department: str | None,
    skus: list[str],
    signin: dict[str, str] | None,
    *,
    enabled: bool = True,
    user_type: str = "Member",
    employee_id: str | None = None,
) -> dict[str, Any]:
    local = name.split()[0].lower()
    user: dict[str, Any] = {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "userPrincipalName": f"{local}@contoso.org",
        "mail": f"{local}@contoso.org",
        "employeeId": employee_id or f"E{n}",
        "displayName": name,
        "department": department,
        "accountEnabled": enabled,
        "userType": user_type,
        "createdDateTime": "2018-01-01T09:00:00Z",
        "assignedLicenses": [{"disabledPlans": [], "skuId": s} for s in skus],
    }
    if signin is not None:
        user["signInActivity"] = signin
    return user


USERS = [
    _user(1, "Alice Martin", "Finance", [E3], _signin("2019-12-20T08:00:00Z")),
    _user(2, "Bob Keller", "Finance", [E3, PBI], _signin("2019-06-01T08:00:00Z")),
    _user(3, "Carol Dupont", "Legal", [E3], None),
    _user(4, "Dave Osei", "Legal", [E3], _signin("2019-12-29T08:00:00Z")),
    _user(5, "Erin Shah", "Legal", [E3], _signin("2019-12-01T08:00:00Z"), enabled=False),
    _user(6, "Guest Person", None, [], None, user_type="Guest"),
    _user(7, "Frank Bauer", None, [E3], _signin("2019-01-01T08:00:00Z")),
    _user(8, "Gina Rossi", "Finance", [E3], _signin("2019-03-01T08:00:00Z")),
]

SKUS = {
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscribedSkus",
    "value": [
        {
            "skuId": E3,
            "skuPartNumber": "SPE_E3",
            "appliesTo": "User",
            "consumedUnits": 7,
            "capabilityStatus": "Enabled",
            "prepaidUnits": {"enabled": 10},
        },
        {
            "skuId": PBI,
            "skuPartNumber": "POWER_BI_PRO",
            "appliesTo": "User",
            "consumedUnits": 1,
            "capabilityStatus": "Enabled",
            "prepaidUnits": {"enabled": 5},
        },
    ],
}

PHONES = """\
device_name,description,model,device_pool,owner_user_id,directory_number,\
registration_status,status_changed_at
SEP000000000001,Alice desk,Cisco 8845,DP_FIN,alice,1001,Registered,2019-12-30T07:00:00Z
SEP000000000002,Bob desk,Cisco 8845,DP_FIN,bob,1002,Registered,2019-12-30T07:00:00Z
SEP000000000003,Legal lobby,Cisco 7841,DP_LEGAL,,1003,UnRegistered,2019-01-01T00:00:00Z
SEP000000000004,Carol desk,Cisco 7841,DP_LEGAL,carol,1004,UnRegistered,2019-12-01T00:00:00Z
"""

SEPARATIONS = """employee_id,email,name,department,separation_date,reason
E4,dave@contoso.org,Dave Osei,Legal,2019-11-30,Resignation
E99,zed@contoso.org,Zed Gone,Legal,2019-10-01,Retirement
E1,alice@contoso.org,Alice Martin,Finance,2020-03-31,End of contract
"""

FOCAL_POINTS = """department,email,name,cc,language
Finance,fp.finance@contoso.org,Zoë Müller,,en
Legal,fp.legal@contoso.org,José Ñúñez,legal.assistant@contoso.org,en
"""

EXEMPTIONS = """subject,reason,approved_by,expires_on
gina@contoso.org,Extended sick leave,HR Director,2020-06-30
"""

RATE_CARD = """item,description,resource_kind,matches,annual_rate_usd,effective_from,effective_to
M365_E3,Microsoft 365 E3 licence,license,SPE_E3,189.60,2016-01-01,
IP_PHONE_PC_PORT,IP desk phone with PC port,phone,*,230.00,2016-01-01,
"""

CONFIG = """
[database]
url = "sqlite:///licensewatch.db"

[policy]
inactive_days = 90
phone_inactive_days = 90
# Five of seven licensed accounts are dormant in this tiny organization.
max_dormant_fraction = 0.9

[sources.accounts]
kind = "graph-export"
path = "exports/graph"

[sources.phones]
kind = "csv"
path = "exports/phones.csv"
owner_match = "upn_local_part"

[sources.separations]
kind = "csv"
path = "exports/separations.csv"

[rate_card]
path = "rate_card.csv"

[focal_points]
path = "focal_points.csv"

[exemptions]
path = "exemptions.csv"

[mail]
transport = "directory"
directory = "outbox"
from = "licensewatch@contoso.org"
escalation_to = ["ict-steering@contoso.org"]
unassigned_to = ["ict-licensing@contoso.org"]

[reports]
dir = "reports"

[routing.device_pools]
"DP_LEGAL" = "Legal"
"""

#: (department, subject, reasons, item, annual_cost_usd) of every finding as of AS_OF.
EXPECTED = {
    ("Finance", "bob@contoso.org", "INACTIVE", "M365_E3", "189.60"),
    ("Finance", "bob@contoso.org", "INACTIVE", "", "0.00"),
    ("Legal", "carol@contoso.org", "NEVER_SIGNED_IN", "M365_E3", "189.60"),
    ("Legal", "dave@contoso.org", "SEPARATED", "M365_E3", "189.60"),
    ("Legal", "erin@contoso.org", "DISABLED_LICENSED", "M365_E3", "189.60"),
    ("(unassigned)", "frank@contoso.org", "INACTIVE", "M365_E3", "189.60"),
    ("Finance", "SEP000000000002", "PHONE_OWNER_DORMANT", "IP_PHONE_PC_PORT", "230.00"),
    ("Legal", "SEP000000000003", "PHONE_UNREGISTERED;PHONE_NO_OWNER", "IP_PHONE_PC_PORT", "230.00"),
    ("Legal", "SEP000000000004", "PHONE_OWNER_DORMANT", "IP_PHONE_PC_PORT", "230.00"),
}


def write_org(root: Path, **overrides: str) -> Path:
    """Write the organization under ``root``; ``overrides`` replace a file's text by name.

    Names: phones, separations, focal_points, exemptions, rate_card, config.
    Returns the config path.
    """
    files = {
        "phones": ("exports/phones.csv", PHONES),
        "separations": ("exports/separations.csv", SEPARATIONS),
        "focal_points": ("focal_points.csv", FOCAL_POINTS),
        "exemptions": ("exemptions.csv", EXEMPTIONS),
        "rate_card": ("rate_card.csv", RATE_CARD),
        "config": ("licensewatch.toml", CONFIG),
    }
    unknown = set(overrides) - set(files)
    if unknown:
        raise KeyError(f"unknown org files: {sorted(unknown)}")
    graph = root / "exports" / "graph"
    graph.mkdir(parents=True, exist_ok=True)
    pages = [USERS[:5], USERS[5:]]
    for i, page in enumerate(pages, start=1):
        doc: dict[str, Any] = {
            "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#users({SELECT})",
            "value": page,
        }
        if i < len(pages):
            doc["@odata.nextLink"] = (
                f"https://graph.microsoft.com/v1.0/users?$select={SELECT}&$top=5"
                "&$skiptoken=RFNwdAIAAQAAACM6QWRlbGVWQGNvbnRvc28uY29tKVVzZXJfMWFl"
            )
        (graph / f"users_{i:04d}.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    (graph / "subscribedSkus.json").write_text(json.dumps(SKUS, indent=1), encoding="utf-8")
    for name, (rel, text) in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(overrides.get(name, text), encoding="utf-8")
    return root / "licensewatch.toml"
