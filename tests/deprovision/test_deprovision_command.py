"""``licensewatch deprovision``: the approved list, and --apply through Graph assignLicense."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import responses

from licensewatch.cli.parser import main
from tests import orgfiles
from tests.smtporg import rows
from tests.sources.graph.conftest import CLIENT, GRAPH, SECRET, SECRET_ENV, TENANT, add_login

INHERITED = (
    "User license is inherited from a group membership and it cannot be removed directly "
    "from the user."
)
LIVE_GRAPH = f"""[sources.accounts]
kind = "graph"
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
client_secret_env = "{SECRET_ENV}"

[deprovision]
graph = true

"""


@pytest.fixture
def decided(tmp_path: Path) -> Path:
    """The tiny org after one run and Legal's answer: remove Dave's and Erin's E3, phone 3."""
    org = orgfiles.write_org(tmp_path / "org")
    assert main(["run", "--config", str(org), "--as-of", orgfiles.AS_OF]) == 0
    db = org.parent / "licensewatch.db"
    wanted = ("dave@contoso.org", "erin@contoso.org", "SEP000000000003")
    ids = [
        rid
        for rid, subject in rows(db, "select resource_id, subject from resource_state")
        if subject in wanted
    ]
    answer = tmp_path / "legal.csv"
    answer.write_text(
        "resource_id,decision\n" + "".join(f"{rid},remove\n" for rid in ids), encoding="utf-8"
    )
    imported = ["decisions", "import", str(answer), "--department", "Legal"]
    assert main([*imported, "--config", str(org), "--as-of", orgfiles.AS_OF]) == 0
    return org


def listed(path: Path) -> dict[str, dict[str, str]]:
    return {row["subject"]: row for row in csv.DictReader(path.open(encoding="utf-8"))}


def account_of(upn: str) -> str:
    """The Graph user id of ``upn`` in the org's export."""
    for user in orgfiles.USERS:
        if user["userPrincipalName"] == upn:
            return str(user["id"])
    raise AssertionError(upn)


def test_the_list_for_the_service_desk_changes_nothing(
    decided: Path, tmp_path: Path, rsps: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "list.csv"
    assert main(["deprovision", "--config", str(decided), "--out", str(out)]) == 0
    approved = listed(out)
    assert sorted(approved) == ["SEP000000000003", "dave@contoso.org", "erin@contoso.org"]
    dave = approved["dave@contoso.org"]
    assert dave["resource_kind"] == "license" and dave["sku_id"] == orgfiles.E3
    assert dave["what"] == "SPE_E3" and dave["annual_cost_usd"] == "189.60"
    assert approved["SEP000000000003"]["sku_id"] == ""
    assert "2 licences still to remove (dry run" in capsys.readouterr().out
    assert len(rsps.calls) == 0


def test_apply_needs_graph_enabled_in_the_config(
    decided: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deprovision", "--config", str(decided), "--apply"]) == 2
    assert capsys.readouterr().err == (
        "licensewatch: error: --apply removes licences through Graph, which the config does not "
        "allow (set graph = true in [deprovision], or hand the list to the service desk)\n"
    )


def test_apply_removes_through_graph_and_records_each_result(
    decided: Path,
    tmp_path: Path,
    rsps: responses.RequestsMock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = decided.read_text(encoding="utf-8")
    start = config.index("[sources.accounts]")
    end = config.index("[sources.phones]")
    decided.write_text(config[:start] + LIVE_GRAPH + config[end:], encoding="utf-8")
    monkeypatch.setenv(SECRET_ENV, SECRET)
    add_login(rsps)
    dave, erin = account_of("dave@contoso.org"), account_of("erin@contoso.org")
    rsps.post(f"{GRAPH}/users/{dave}/assignLicense", json={"id": dave}, status=200)
    rsps.post(
        f"{GRAPH}/users/{erin}/assignLicense",
        json={"error": {"code": "Request_BadRequest", "message": INHERITED}},
        status=400,
    )
    out = tmp_path / "list.csv"
    command = ["deprovision", "--config", str(decided), "--apply", "--out", str(out)]
    assert main(command) == 1  # one refusal: the operator must look
    posts = [
        c for c in rsps.calls if c.request.method == "POST" and "assignLicense" in c.request.url
    ]
    assert len(posts) == 2
    assert json.loads(posts[0].request.body or b"{}") == {
        "addLicenses": [],
        "removeLicenses": [orgfiles.E3],
    }
    approved = listed(out)
    assert approved["dave@contoso.org"]["last_result"] == "removed"
    assert approved["erin@contoso.org"]["last_result"].startswith("failed: HTTP 400")
    db = decided.parent / "licensewatch.db"
    assert rows(db, "select ok, action from deprovision_actions order by id") == [
        (1, "remove_license"),
        (0, "remove_license"),
    ]
    assert SECRET not in capsys.readouterr().err

    # Again: only Erin's licence is still to do.
    assert main(command) == 1
    posts = [
        c for c in rsps.calls if c.request.method == "POST" and "assignLicense" in c.request.url
    ]
    assert len(posts) == 3 and erin in posts[-1].request.url
