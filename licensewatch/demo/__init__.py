"""Deterministic synthetic organization for ``licensewatch demo``.

:func:`generate` writes everything a run reads, in the real source formats:
Microsoft Graph users pages exactly as ``GET /v1.0/users`` returns them (500 a
page, ``@odata.nextLink``, the documented sign-in quirks), ``subscribedSkus.json``,
a phone inventory, an HR separations file, focal points, exemptions, the shipped
rate card and a complete ``licensewatch.toml``. Every date is relative to
``as_of``, so the organization has the same shape whatever the day, and the same
seed and ``as_of`` give byte-identical files. No clock, no network.

About 9% of the licensed accounts are dormant, as in the audit (5,441 of about
60,000): inactive, never signed in, disabled yet licensed, or separated by HR
while the account still looks active.
"""

from __future__ import annotations

import gc
import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from licensewatch.demo.activity import DORMANT, NEVER
from licensewatch.demo.common import DAY, Moments, iso
from licensewatch.demo.files import MARKER, prepare, refuse_foreign, write_csv, write_json
from licensewatch.demo.graph_pages import GRAPH, PAGE_SIZE, SELECT, subscribed_skus, write_pages
from licensewatch.demo.hr import REASONS, write_separations
from licensewatch.demo.people import People
from licensewatch.demo.phones import DESK_MODELS, PHONE_COLUMNS, phone_inventory
from licensewatch.demo.reference import (
    EXEMPTION_COLUMNS,
    FOCAL_NAMES,
    FOCAL_POINT_COLUMNS,
    copy_rate_card,
    exemptions,
    focal_points,
    shipped_rate_card,
    write_config,
)
from licensewatch.demo.seats import add_group_licensing, subscriptions
from licensewatch.demo.tables import (
    CITIES,
    DEPARTMENTS,
    DOMAIN,
    E3,
    FIRST_NAMES,
    LAST_NAMES,
    NON_LATIN_NAMES,
    PBI,
    SKUS,
    VISIO,
    ascii_part,
    draw_departments,
)

__all__ = [
    "CITIES",
    "DAY",
    "DEPARTMENTS",
    "DESK_MODELS",
    "DOMAIN",
    "DORMANT",
    "E3",
    "FIRST_NAMES",
    "FOCAL_NAMES",
    "GRAPH",
    "LAST_NAMES",
    "MARKER",
    "NEVER",
    "NON_LATIN_NAMES",
    "PAGE_SIZE",
    "PBI",
    "PHONE_COLUMNS",
    "REASONS",
    "SELECT",
    "SKUS",
    "VISIO",
    "DemoOrganization",
    "ascii_part",
    "generate",
    "iso",
]


@dataclass(frozen=True)
class DemoOrganization:
    """What :func:`generate` wrote: the folder, its config and the sizes of the feeds.

    ``accounts`` counts every user object of the Graph export: the licensed
    accounts asked for plus unlicensed guests and resource mailboxes.
    """

    root: Path
    config_path: Path
    accounts: int
    departments: int
    phones: int
    separations: int


def generate(
    root: Path, *, accounts: int = 60_000, departments: int = 40, seed: int = 2019, as_of: date
) -> DemoOrganization:
    """Write a demo organization with ``accounts`` licensed accounts into ``root``.

    About 3.5% more accounts come on top, unlicensed: guests and resource
    mailboxes. ``root`` is created if needed; a folder that holds other files
    and was not written here is refused (``ConfigError``); in a demo folder only
    the generator's own files are overwritten (the database, outbox and reports
    of earlier runs stay). A missing shipped rate card raises
    ``LicensewatchError``; sizes below 1 raise ``ValueError``.
    """
    if accounts < 1 or departments < 1:
        raise ValueError("accounts and departments must be at least 1")
    root = Path(root)
    refuse_foreign(root)
    shipped_rates = shipped_rate_card()
    # Some 300,000 small acyclic dicts: the cycle collector would only rescan them, again and again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _generate(root, shipped_rates, accounts, departments, seed, as_of)
    finally:
        if collecting:
            gc.enable()


def _generate(
    root: Path, shipped_rates: Path, accounts: int, departments: int, seed: int, as_of: date
) -> DemoOrganization:
    # One random stream, drawn in this order: reordering any step changes every later file.
    rng = random.Random(seed)
    moments = Moments(rng, as_of)
    depts = draw_departments(rng, departments)
    people = People(rng, moments, depts)
    people.populate(accounts)
    phones = phone_inventory(rng, moments, people)
    prepare(root, f"seed={seed} accounts={accounts} departments={departments} as_of={as_of}")
    users = sorted((a.user for a in people.accounts), key=lambda u: str(u["id"]))
    groups = add_group_licensing(seed, users)  # its own random stream: findings stay as they were
    write_pages(root / "exports" / "graph", users)
    skus_doc = subscribed_skus(rng, users)
    write_json(root / "exports" / "graph" / "subscribedSkus.json", skus_doc)
    write_json(root / "exports" / "graph" / "subscriptions.json", subscriptions(skus_doc, as_of))
    write_json(root / "exports" / "graph" / "groups.json", {"value": groups})
    write_csv(root / "exports" / "phones.csv", PHONE_COLUMNS, phones)
    write_separations(root / "exports" / "separations.csv", people.separations)
    copy_rate_card(shipped_rates, root)
    write_csv(root / "config" / "focal_points.csv", FOCAL_POINT_COLUMNS, focal_points(rng, depts))
    write_csv(
        root / "config" / "exemptions.csv",
        EXEMPTION_COLUMNS,
        exemptions(moments, people, phones),
    )
    config_path = write_config(root, depts)
    return DemoOrganization(
        root=root,
        config_path=config_path,
        accounts=len(users),
        departments=len(depts),
        phones=len(phones),
        separations=len(people.separations),
    )
