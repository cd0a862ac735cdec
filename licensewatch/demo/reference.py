"""The demo's reference files: focal points, exemptions, the shipped rate card and the config."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

from licensewatch import resources
from licensewatch.demo.common import DAY, Moments, day
from licensewatch.demo.people import People
from licensewatch.demo.tables import DOMAIN, FIRST_NAMES, LAST_NAMES, Department, ascii_part
from licensewatch.errors import LicensewatchError

FOCAL_POINT_COLUMNS = ("department", "email", "name", "cc", "language")
EXEMPTION_COLUMNS = ("subject", "reason", "approved_by", "expires_on")
FOCAL_NAMES = (
    ("Zoë Müller", "zoe.muller", "en"), ("José Ñúñez", "jose.nunez", "en"),
    ("王小明", "wang.xiaoming", "en"), ("Amélie Côté", "amelie.cote", "fr"),
)  # fmt: skip


def shipped_rate_card() -> Path:
    """The rate card shipped with licensewatch; ``LicensewatchError`` when it is missing."""
    shipped_rates = resources.default_config_dir() / "rate_card.csv"
    if not shipped_rates.is_file():
        raise LicensewatchError(
            f"the shipped rate card {shipped_rates} is missing", hint="reinstall licensewatch"
        )
    return shipped_rates


def copy_rate_card(shipped_rates: Path, root: Path) -> None:
    """Copy the shipped rate card into the demo's ``config`` folder, byte for byte."""
    shutil.copyfile(shipped_rates, root / "config" / "rate_card.csv")


def focal_points(rng: random.Random, depts: list[Department]) -> list[list[str]]:
    """One focal point per department but the smallest ones (their findings go unassigned)."""
    named = iter(FOCAL_NAMES)
    rows = []
    for dept in depts:
        if not dept.focal_point:
            continue
        name, local, language = next(named, ("", "", ""))
        if not name:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            name, local = f"{first} {last}", f"{ascii_part(first)}.{ascii_part(last)}"
            language = "fr" if rng.random() < 0.25 else "en"
        office, head = (f"{who}.{dept.abbr.lower()}@{DOMAIN}" for who in ("admin", "director"))
        roll = rng.random()
        cc = "" if roll < 0.6 else office if roll < 0.9 else f"{office};{head}"
        rows.append([dept.name, f"{local}@{DOMAIN}", name, cc, language])
    return sorted(rows, key=lambda row: row[0].casefold())


def exemptions(at: Moments, people: People, phones: list[list[str]]) -> list[list[str]]:
    """A handful of dated exemptions of dormant accounts and phones; the last one expired."""

    def upn(kind: str, n: int = 0) -> str:
        found = people.by_kind.get(kind, [])
        return str(found[n].user["userPrincipalName"]) if len(found) > n else ""

    disabled = {a.local for a in people.by_kind.get("disabled", [])}
    spare = next((row[0] for row in phones if row[4] in disabled), "")
    lobby = next((row[0] for row in phones if not row[4] and row[6] != "Registered"), "")
    plan = (
        (upn("inactive"), "Extended sick leave; back next quarter", "Director, HR", 120),
        (upn("never"), "Mailbox kept under legal hold", "Legal Counsel", 365),
        (upn("sep_active"), "Handover to the successor", "Director, Finance", 45),
        (lobby, "Emergency phone required by the building safety plan", "Chief, Security", 360),
        (spare, "Spare phone of the duty officer", "Chief, ICT Operations", 180),
        (upn("inactive", 1), "Sabbatical", "Director, HR", -15),
    )
    return [[s, why, who, day(at.base + days * DAY)] for s, why, who, days in plan if s]


_CONFIG = """\
# licensewatch configuration of the demo organization, written by `licensewatch demo`.
# A complete config to copy from: config/licensewatch.example.toml documents every key.
# Relative paths resolve against the folder this file is in.

[database]
url = "sqlite:///licensewatch.db"

[policy]
inactive_days = 90              # INACTIVE / NEVER_SIGNED_IN after this many days without a sign-in
phone_inactive_days = 90        # PHONE_UNREGISTERED after this many days not registered
separation_grace_days = 0       # SEPARATED from the HR separation date on
activity_signal = "successful"  # lastSuccessfulSignInDateTime when present, else the latest attempt
max_dormant_fraction = 0.25     # safety brake: send nothing when more look dormant

[sources.accounts]
kind = "graph-export"           # users_*.json pages of GET /v1.0/users + subscribedSkus.json
path = "exports/graph"

[sources.phones]
kind = "csv"
path = "exports/phones.csv"
owner_match = "upn_local_part"  # owner_user_id is the part of the UPN before the @

[sources.separations]
kind = "csv"
path = "exports/separations.csv"

[rate_card]
path = "config/rate_card.csv"

[focal_points]
path = "config/focal_points.csv"

[exemptions]
path = "config/exemptions.csv"

[mail]
transport = "directory"         # one .eml per department in `directory`; nothing is sent
directory = "outbox"
from = "licensewatch@example.org"
organization = "Demo Organization"
escalation_to = ["ict-steering-committee@demo.example.org"]   # the committee's digest
unassigned_to = ["ict-licensing@demo.example.org"]            # findings no focal point owns

[reports]
dir = "reports"

[routing.device_pools]
# Phones without an owner in these pools go to the department; others to the unassigned queue.
{routes}
"""


def config_text(depts: list[Department]) -> str:
    """The demo's ``licensewatch.toml``, routing the device pools of its routed departments."""
    # JSON strings are valid TOML basic strings (ASCII, \\u escapes).
    routes = [f"{json.dumps(d.pool)} = {json.dumps(d.name)}" for d in depts if d.routed]
    return _CONFIG.format(routes="\n".join(routes))


def write_config(root: Path, depts: list[Department]) -> Path:
    """Write ``licensewatch.toml`` into ``root`` and return its path."""
    config_path = root / "licensewatch.toml"
    config_path.write_bytes(config_text(depts).encode("utf-8"))
    return config_path
