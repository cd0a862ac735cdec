"""A dormant, group-licensed account from finding to realized savings (issue 17).

Erin (Legal, disabled) holds SPE_E3 only through the licensing group
LIC-E3-Legal. The run says so (findings.csv ``via_group``, the focal point's
email); Legal approves the removal; ``deprovision --apply`` with ``[deprovision]
groups = true`` takes her out of the group (responses-mocked Graph, the
documented DELETE …/members/{id}/$ref answering 204) instead of calling
assignLicense, which would refuse an inherited licence; the next pull no longer
shows the licence, so the run books it removed and counts its savings.
"""

from __future__ import annotations

import csv
import json
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
import responses

from licensewatch.cli.parser import main
from tests import orgfiles
from tests.smtporg import rows
from tests.sources.graph.conftest import CLIENT, GRAPH, SECRET, SECRET_ENV, TENANT, add_login

pytestmark = pytest.mark.usefixtures("no_real_sleep")
GROUP = "3f1c2a9e-7b4d-4c8a-9e2f-6a5b4c3d2e1f"
ERIN = "00000000-0000-4000-8000-000000000005"
LIVE = f"""[sources.accounts]
kind = "graph"
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
client_secret_env = "{SECRET_ENV}"

[deprovision]
graph = true
groups = true

"""


def _state(sku: str, group: str | None) -> dict[str, Any]:
    return {
        "assignedByGroup": group,
        "disabledPlans": [],
        "error": "None",
        "lastUpdatedDateTime": "2019-03-01T08:00:00Z",
        "skuId": sku,
        "state": "Active",
    }


def _rewrite_users(graph: Path, *, erin_licensed: bool) -> None:
    """Give every user licenseAssignmentStates: Erin's E3 from the group, the others direct."""
    for page in sorted(graph.glob("users_*.json")):
        doc = json.loads(page.read_text(encoding="utf-8"))
        for user in doc["value"]:
            skus = [a["skuId"] for a in user["assignedLicenses"]]
            if user["id"] == ERIN and not erin_licensed:
                user["assignedLicenses"], skus = [], []
            group = GROUP if user["id"] == ERIN else None
            user["licenseAssignmentStates"] = [_state(s, group) for s in skus]
        page.write_text(json.dumps(doc, indent=1), encoding="utf-8")


def _org(root: Path) -> Path:
    # One licence of eight going is a 12.5% drop: over the brake's default 10% in so tiny an org.
    tiny = orgfiles.CONFIG.replace("[policy]\n", "[policy]\nmax_feed_drop = 0.5\n")
    config = orgfiles.write_org(root, config=tiny)
    graph = root / "exports" / "graph"
    _rewrite_users(graph, erin_licensed=True)
    group = {"@odata.context": f"{GRAPH}/$metadata#groups(id,displayName)/$entity",
             "id": GROUP, "displayName": "LIC-E3-Legal"}  # fmt: skip
    (graph / "groups.json").write_text(json.dumps({"value": [group]}), encoding="utf-8")
    return config


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _summary(config: Path, day: str) -> dict[str, Any]:
    path = config.parent / "reports" / day / "run_summary.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


def test_a_group_licence_is_left_verified_and_counted(
    tmp_path: Path, rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _org(tmp_path / "org")
    assert main(["run", "--config", str(config), "--as-of", orgfiles.AS_OF]) == 0
    reports = config.parent / "reports" / orgfiles.AS_OF
    erin = [r for r in _csv(reports / "findings.csv") if r["subject"] == "erin@contoso.org"]
    assert [(r["sku_part_number"], r["via_group"], r["annual_cost_usd"]) for r in erin] == [
        ("SPE_E3", "LIC-E3-Legal", "189.60")  # still avoidable: priced like any other
    ]
    eml = next((config.parent / "outbox").glob("*legal*.eml")).read_bytes()
    text_part = message_from_bytes(eml, policy=default).get_body(("plain",))
    assert text_part is not None
    assert "take the account out of group LIC-E3-Legal" in text_part.get_content()
    seats = {r["sku_part_number"]: r for r in _csv(reports / "seats.csv")}
    assert (seats["SPE_E3"]["purchased"], seats["SPE_E3"]["assigned"]) == ("10", "7")
    assert _summary(config, orgfiles.AS_OF)["seats"]["renewal_data"] is False

    db = config.parent / "licensewatch.db"
    (rid,) = [r for r, s in rows(db, "select resource_id, subject from resource_state")
              if s == "erin@contoso.org"]  # fmt: skip
    answer = tmp_path / "legal.csv"
    answer.write_text(f"resource_id,decision\n{rid},remove\n", encoding="utf-8")
    imported = ["decisions", "import", str(answer), "--department", "Legal"]
    assert main([*imported, "--config", str(config), "--as-of", orgfiles.AS_OF]) == 0

    text = config.read_text(encoding="utf-8")
    live = config.parent / "deprovision.toml"
    start, end = text.index("[sources.accounts]"), text.index("[sources.phones]")
    live.write_text(text[:start] + LIVE + text[end:], encoding="utf-8")
    monkeypatch.setenv(SECRET_ENV, SECRET)
    add_login(rsps)
    rsps.delete(f"{GRAPH}/groups/{GROUP}/members/{ERIN}/$ref", status=204)
    out = tmp_path / "list.csv"
    assert main(["deprovision", "--config", str(live), "--apply", "--out", str(out)]) == 0
    methods = [(c.request.method, c.request.url) for c in rsps.calls if GRAPH in c.request.url]
    assert methods == [("DELETE", f"{GRAPH}/groups/{GROUP}/members/{ERIN}/$ref")]
    (listed,) = _csv(out)
    assert (listed["via_group"], listed["group_step"]) == (
        "LIC-E3-Legal",
        "left group LIC-E3-Legal",
    )
    assert rows(db, "select action, ok, resource_id from deprovision_actions") == [
        ("leave_group", 1, f"group:{GROUP}:{ERIN}")
    ]
    # Nothing is assumed: until the next pull, the licence is still dormant and not saved.
    assert _summary(config, orgfiles.AS_OF)["removed_resources"] == 0

    _rewrite_users(config.parent / "exports" / "graph", erin_licensed=False)
    assert main(["run", "--config", str(config), "--as-of", "2020-01-31"]) == 0
    after = _summary(config, "2020-01-31")
    assert after["removed_resources"] == 1
    assert after["realized_savings_annual_usd"] == "189.60"
    # Booked removed on the day the pull first lacked it (2020-01-31): nothing accrued yet.
    assert after["realized_savings_to_date_usd"] == "0.00"
    findings = _csv(config.parent / "reports" / "2020-01-31" / "findings.csv")
    assert "erin@contoso.org" not in {r["subject"] for r in findings}
    seats = {r["sku_part_number"]: r for r in _csv(config.parent / "reports" / "2020-01-31" /
                                                    "seats.csv")}  # fmt: skip
    assert seats["SPE_E3"]["approved_removal"] == "0"
