"""``seats = true``: subscriptions and licensing groups read live once, saved and replayed."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import responses

from licensewatch.config import SourceSettings
from licensewatch.sources.graph.export import GraphExportSource
from tests.sources.graph.conftest import (
    COUNT_URL,
    FIELDS,
    GRAPH,
    SKUS_URL,
    Waits,
    add_login,
    graph_settings,
    make_source,
    spy_on_decoding,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "graph_seats"
GROUP = "1ad75eeb-7e5a-4367-a493-9214d90d54d0"
SELECT = f"{FIELDS},signInActivity,licenseAssignmentStates"
USERS_URL = f"{GRAPH}/users?$select={SELECT}&$top=3"
GROUP_URL = f"{GRAPH}/groups/{GROUP}?$select=id,displayName"


def _users_page() -> bytes:
    """The seat fixture's users as the live query's one page (none has signed in)."""
    doc = json.loads((FIXTURES / "users_states.json").read_text(encoding="utf-8"))
    doc["@odata.context"] = f"{GRAPH}/$metadata#users({SELECT})"
    for user in doc["value"]:
        user.update(accountEnabled=True, userType="Member", createdDateTime="2018-01-01T00:00:00Z")
    return json.dumps(doc).encode()


def _mock(rsps: responses.RequestsMock, *, groups_status: int = 200) -> None:
    add_login(rsps)
    rsps.get(
        SKUS_URL,
        body=(FIXTURES / "subscribedSkus.json").read_bytes(),
        content_type="application/json",
    )
    rsps.get(USERS_URL, body=_users_page(), content_type="application/json")
    rsps.get(COUNT_URL, body="4", content_type="text/plain")
    rsps.get(
        f"{GRAPH}/directory/subscriptions",
        body=(FIXTURES / "subscriptions.json").read_bytes(),
        content_type="application/json",
    )
    body = FIXTURES / ("group_1ad75eeb.json" if groups_status == 200 else "error_403_member.json")
    rsps.get(
        GROUP_URL, body=body.read_bytes(), status=groups_status, content_type="application/json"
    )


def test_live_seats_are_read_once_saved_and_replayed(
    tmp_path: Path, rsps: responses.RequestsMock
) -> None:
    _mock(rsps)
    source = make_source(graph_settings(tmp_path, seats=True), Waits())
    saved = tmp_path / "saved"
    source.record_to(saved)
    pull = source.pull()
    assert pull.seats is not None and pull.subscriptions is not None
    assert pull.seats["enabled"].tolist() == [25, 0]
    assert pull.subscriptions["total_licenses"].tolist() == [25, 25]
    assert pull.license_states is not None
    assert pull.license_states["group_name"].dropna().unique().tolist() == ["LIC-E5-Sales"]
    assert sum(c.request.url == GROUP_URL for c in rsps.calls) == 1  # once per run, not per user
    assert {"subscriptions.json", "groups.json"} <= {p.name for p in saved.iterdir()}
    replay = GraphExportSource(
        SourceSettings("accounts", "graph-export", {"path": str(saved)}, tmp_path)
    ).pull()
    for live, again in (
        (pull.seats, replay.seats),
        (pull.subscriptions, replay.subscriptions),
        (pull.license_states, replay.license_states),
    ):
        assert again is not None
        pd.testing.assert_frame_equal(live, again)


def test_with_seats_the_pages_are_decoded_with_their_users_licence_states(
    tmp_path: Path, rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded = spy_on_decoding(monkeypatch, "decode_with_states")
    _mock(rsps)
    pull = make_source(graph_settings(tmp_path, seats=True), Waits()).pull()
    assert decoded == [True]  # the states as the replay reads them: the test above
    assert pull.license_states is not None and len(pull.license_states) > 0


def test_no_permission_for_the_groups_is_a_note(
    tmp_path: Path, rsps: responses.RequestsMock
) -> None:
    _mock(rsps, groups_status=403)
    pull = make_source(graph_settings(tmp_path, seats=True), Waits()).pull()
    assert pull.license_states is not None and pull.license_states["group_name"].isna().all()
    assert any("licensing groups' names" in n and "shown by id" in n for n in pull.notes)
