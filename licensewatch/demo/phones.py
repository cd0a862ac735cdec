"""The phone inventory of the demo: desk phones of members, shared phones, unknown owners.

Rows are in the CSV phone feed's columns with RisPort's registration spellings;
the phones of dormant accounts mostly went unregistered when their owner went quiet.
"""

from __future__ import annotations

import random

from licensewatch.demo.activity import DORMANT
from licensewatch.demo.common import DAY, Moments, iso, pick
from licensewatch.demo.people import People
from licensewatch.demo.tables import CITIES, Department

PHONE_COLUMNS = (
    "device_name",
    "description",
    "model",
    "device_pool",
    "owner_user_id",
    "directory_number",
    "registration_status",
    "status_changed_at",
    "last_seen_at",
)
DESK_MODELS = (
    ("Cisco 8845", "Cisco 7841", "Cisco 8865", "Cisco 7821", "Cisco 8851"),
    (40, 75, 85, 95, 100),
)


def _phone_state(rng: random.Random, at: Moments, dormant: bool, since: int) -> list[str]:
    """[registration_status, status_changed_at, last_seen_at] in RisPort's spelling."""
    roll = rng.random()
    if dormant and roll < 0.6:
        gone = min(since + rng.randint(0, 10) * DAY, at.base - rng.randrange(1, DAY))
    elif not dormant and roll < 0.05:  # a few live owners' phones sit unplugged, most briefly
        gone = at.ago(1, 60) if roll < 0.035 else at.ago(91, 400)
    else:
        seen = at.base - rng.randrange(60, 20 * 3600)
        return ["Registered", iso(at.ago(1, 200)), iso(seen)]
    return ["UnRegistered", iso(gone), "" if rng.random() < 0.05 else iso(gone)]


def phone_inventory(rng: random.Random, at: Moments, people: People) -> list[list[str]]:
    """About one desk phone per member, shared phones without owner, a few unknown owners."""
    used: set[str] = set()  # membership only: never iterated, so order stays deterministic

    def device() -> str:
        while (name := f"SEP{rng.getrandbits(48):012X}") in used:
            pass
        used.add(name)
        return name

    def pool(dept: Department) -> str:
        return dept.pool if rng.random() < 0.85 else f"DP_{rng.choice(CITIES).upper()}"

    rows: list[list[str]] = []
    for a in people.accounts:
        if a.user["userType"] == "Member" and a.kind != "resource" and rng.random() < 0.92:
            model = pick(rng, DESK_MODELS)
            state = _phone_state(rng, at, a.kind in DORMANT, a.since)
            name = a.user["displayName"]
            rows.append([device(), name, model, pool(a.department), a.local, *state])
    for n, (display, local, dept, left) in enumerate(people.deprovisioned):
        if n == 0 or rng.random() < 0.2:  # the phone outlived the account: an unknown owner
            model = pick(rng, DESK_MODELS)
            state = _phone_state(rng, at, True, left)
            rows.append([device(), display, model, pool(dept), local, *state])
    routed = [d for d in people.depts if d.routed]
    for n in range(max(1, round(len(rows) * 0.012))):
        dept = routed[n] if n < len(routed) else rng.choice(people.depts)
        where = f"{dept.city} {rng.randint(1, 9)}-{rng.randint(1, 40):02d}"
        what, model = rng.choice(
            ((f"Conference room {where}", "Cisco 8832"), (f"Lobby {dept.city}", "Cisco 7811"),
             (f"Meeting room {dept.abbr} {where}", "Cisco 7841"),
             (f"Reception {dept.abbr}", "Cisco 8845"))
        )  # fmt: skip
        state = _phone_state(rng, at, rng.random() < 0.3, at.ago(91, 600))
        rows.append([device(), what, model, dept.pool, "", *state])
    numbers = rng.sample(range(200_000, 200_000 + max(100_000, 2 * len(rows))), len(rows))
    for row, number in zip(rows, numbers, strict=True):
        row.insert(5, str(number))
    return sorted(rows)
