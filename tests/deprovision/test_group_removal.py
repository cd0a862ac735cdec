"""Leaving a licensing group: DELETE /groups/{id}/members/{id}/$ref answered 204, 404 or 403.

Graph and the identity platform are faked with ``responses``; the error bodies
are the documented ones (tests/fixtures/graph_seats).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import responses

from licensewatch.answers.group_removal import (
    LEFT,
    GraphGroupRemover,
    GroupRemoval,
    GroupResult,
    plan_group_removals,
)
from licensewatch.config import SourceSettings
from licensewatch.errors import SourceAuthError
from licensewatch.graph.auth import load_credential
from licensewatch.graph.client import LazyGraph
from licensewatch.graph.options import GraphOptions
from tests.sources.graph.conftest import (
    CLIENT,
    GRAPH,
    SECRET,
    SECRET_ENV,
    TENANT,
    Waits,
    add_login,
)

pytestmark = pytest.mark.usefixtures("no_real_sleep")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "graph_seats"
GROUP = "1ad75eeb-7e5a-4367-a493-9214d90d54d0"
E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"
ERIN_ID = "00000000-0000-4000-8000-000000000005"
DAVE_ID = "00000000-0000-4000-8000-000000000004"
ERIN = GroupRemoval(
    ERIN_ID, "erin@contoso.org", GROUP, "LIC-E3-Legal", (f"license:{ERIN_ID}:{E3}",)
)
DAVE = GroupRemoval(
    DAVE_ID, "dave@contoso.org", GROUP, "LIC-E3-Legal", (f"license:{DAVE_ID}:{E3}",)
)


def member_url(removal: GroupRemoval) -> str:
    return f"{GRAPH}/groups/{removal.group_id}/members/{removal.account_id}/$ref"


def group_remover(tmp_path: Path) -> GraphGroupRemover:
    values = {"tenant_id": TENANT, "client_id": CLIENT, "client_secret_env": SECRET_ENV}
    options = GraphOptions.from_settings(SourceSettings("accounts", "graph", values, tmp_path))
    credential = load_credential(options, {SECRET_ENV: SECRET})
    graph = LazyGraph(options, credential, sleep=Waits(), random=lambda: 0.5)
    return GraphGroupRemover(graph, options.graph_url)


def test_204_leaves_and_404_is_a_result(tmp_path: Path, rsps: responses.RequestsMock) -> None:
    add_login(rsps)
    rsps.delete(member_url(ERIN), status=204)
    rsps.delete(
        member_url(DAVE),
        status=404,
        body=(FIXTURES / "error_404_member.json").read_bytes(),
        content_type="application/json",
    )
    seen: list[GroupResult] = []
    results = group_remover(tmp_path).remove([ERIN, DAVE], on_result=seen.append)
    assert seen == results
    assert [(r.removal.upn, r.ok, r.detail) for r in results] == [
        ("erin@contoso.org", True, LEFT),
        ("dave@contoso.org", False, "HTTP 404 Request_ResourceNotFound: Resource "
         f"'{DAVE_ID}' does not exist or one of its queried reference-property objects are "
         "not present."),
    ]  # fmt: skip
    deletes = [c for c in rsps.calls if c.request.method == "DELETE"]
    assert len(deletes) == 2 and deletes[0].request.body is None  # one try each, no body


def test_403_stops_with_the_permission_to_grant(
    tmp_path: Path, rsps: responses.RequestsMock
) -> None:
    add_login(rsps)
    rsps.delete(
        member_url(ERIN),
        status=403,
        body=(FIXTURES / "error_403_member.json").read_bytes(),
        content_type="application/json",
    )
    seen: list[GroupResult] = []
    with pytest.raises(SourceAuthError) as caught:
        group_remover(tmp_path).remove([ERIN, DAVE], on_result=seen.append)
    assert "GroupMember.ReadWrite.All" in (caught.value.hint or "")
    assert seen == []  # Dave was not tried
    assert sum(c.request.method == "DELETE" for c in rsps.calls) == 1


def test_a_group_that_gives_an_unapproved_licence_goes_to_the_service_desk() -> None:
    pbi = "f8a1db68-be16-40ed-86d5-cb42ce701560"
    erin, dave = ERIN.account_id, DAVE.account_id

    def row(account: str, sku: str, upn: str) -> dict[str, object]:
        return {"account_id": account, "subject": upn, "resource_id": f"license:{account}:{sku}",
                "via_group_id": GROUP, "via_group": "LIC-E3-Legal"}  # fmt: skip

    findings = pd.DataFrame([
        row(erin, E3, "erin@contoso.org"), row(dave, E3, "dave@contoso.org"),
        row(dave, pbi, "dave@contoso.org"),
    ])  # fmt: skip
    listed = findings.iloc[:2]  # Dave's Power BI licence from the same group is not approved
    removals, desk = plan_group_removals(listed, findings)
    assert removals == [ERIN]
    assert desk == {
        DAVE.key: "service desk: remove from group LIC-E3-Legal once its other licences are "
        f"approved ({pbi})"
    }
