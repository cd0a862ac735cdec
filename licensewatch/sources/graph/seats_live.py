"""Reading seats live (``seats = true`` in ``[sources.accounts]``, kind ``graph``).

After the users: ``GET /directory/subscriptions`` (saved as ``subscriptions.json``)
and, once per run, ``GET /groups/{id}?$select=id,displayName`` for every
licensing group the users' ``licenseAssignmentStates`` name (saved together as
``groups.json``). A 403 on either (the app lacks ``Organization.Read.All`` or
``GroupMember.Read.All``) is a note, not a failed pull: the seats report then has
no renewal dates, or shows groups by id. The app needs ``Directory.Read.All`` or
those two permissions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from licensewatch.graph.client import GraphHttp
from licensewatch.graph.errors import GraphForbidden, GraphRefused
from licensewatch.logs import get_logger
from licensewatch.sources.graph.seats import (
    GROUP_SELECT,
    GROUPS_FILE,
    SUBSCRIPTIONS_FILE,
    SUBSCRIPTIONS_PATH,
    LicenseStates,
    SeatData,
    seat_data,
)

log = get_logger("licensewatch.sources.graph.live")


def read_live_seats(
    http: GraphHttp,
    base: str,
    skus_doc: Any,
    states: LicenseStates,
    save: Callable[[str, bytes], None],
) -> SeatData:
    """Subscriptions and group names read live, with the pull's SKUs and licence states."""
    notes: list[str] = []
    subscriptions: Any | None = None
    try:
        subscriptions, raw = http.get_json(f"{base}{SUBSCRIPTIONS_PATH}")
        save(SUBSCRIPTIONS_FILE, raw)
    except GraphForbidden as exc:
        notes.append(
            f"Graph refused GET {SUBSCRIPTIONS_PATH} ({exc.message}): no renewal dates; grant "
            "Organization.Read.All"
        )
    groups: list[Any] = []
    for group_id in states.group_ids():
        url = f"{base}/groups/{quote(group_id, safe='')}?$select={GROUP_SELECT}"
        try:
            doc, _ = http.get_json(url)
        except GraphForbidden as exc:
            notes.append(f"Graph refused the licensing groups' names ({exc.message}): shown by id")
            break
        except GraphRefused as exc:
            if exc.status != 404:
                raise
            continue  # a group deleted since the licence was inherited: shown by id
        groups.append(doc)
    if groups:
        save(GROUPS_FILE, json.dumps({"value": groups}, ensure_ascii=False, indent=1).encode())
    data = seat_data(
        skus_doc, states, subscriptions_doc=subscriptions, group_docs=groups, origin="Graph"
    )
    for note in notes:
        log.warning("%s", note)
    log.info(
        "Graph seats: %d SKUs, %s subscriptions, %d licensing groups",
        len(data.seats),
        "no" if data.subscriptions is None else len(data.subscriptions),
        len(groups),
    )
    return SeatData(data.seats, data.subscriptions, data.license_states, (*notes, *data.notes))
