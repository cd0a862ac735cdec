"""Nights with two call-manager clusters: a failing one, an optional one, and a saved pull.

The two clusters are two hosts answered by ``responses`` (cluster ``hq`` is the
orgfiles phones, cluster ``mission`` one phone whose device name is also one of
hq's), pulled by the CLI on a fake clock.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
import responses

from licensewatch import sources
from licensewatch.cli.parser import main
from licensewatch.errors import EXIT_RUNTIME
from licensewatch.reports.findings import FINDINGS_COLUMNS
from licensewatch.sources.cucm.multi import CucmClustersSource
from tests import orgfiles
from tests.sources.cucm.conftest import (
    AXL_URL,
    PASSWORD,
    PASSWORD_ENV,
    USER,
    FakeClock,
    ris_response,
    sql_response,
)
from tests.test_cli import db_counts
from tests.test_live_sources_end_to_end import (
    AS_OF,
    CUCM_PHONES,
    RIS_NODES,
    SQL_ROWS,
    config_with,
    epoch,
    expected_rows,
    files_under,
    pull,
    read_csv,
    run,
    write_config,
)

pytestmark = pytest.mark.usefixtures("no_real_sleep")  # tests/conftest.py

HQ_RIS = AXL_URL.replace("/axl/", "/realtimeservice2/services/RISService70")
MISSION = "https://cucm-mission.example.org:8443"
MISSION_AXL, MISSION_RIS = f"{MISSION}/axl/", f"{MISSION}/realtimeservice2/services/RISService70"
#: The mission's one phone: no owner, unregistered for a year, named like hq's lobby phone.
MISSION_ROWS: list[dict[str, str | None]] = [
    {
        "name": "SEP000000000003",
        "description": "Mission spare",
        "model": "Cisco 7841",
        "devicepool": "DP_M",
        "owner": None,
        "dnorpattern": "2003",
        "lastseen": str(epoch("2019-01-01T00:00:00")),
    }
]
MISSION_FINDING = (
    "Finance",
    "SEP000000000003",
    "PHONE_UNREGISTERED;PHONE_NO_OWNER",
    "IP_PHONE_PC_PORT",
    "230.00",
)


def two_clusters(*, optional: bool = False) -> str:
    """[sources.phones] with clusters hq (the orgfiles phones) and mission."""
    return f"""[sources.phones]
kind = "cucm"
owner_match = "upn_local_part"

[sources.phones.clusters.hq]
axl_url = "{AXL_URL}"
username = "{USER}"
password_env = "{PASSWORD_ENV}"
max_retries = 2

[sources.phones.clusters.mission]
axl_url = "{MISSION_AXL}"
username = "{USER}"
password_env = "{PASSWORD_ENV}"
max_retries = 1
optional = {str(optional).lower()}
risport_rate_per_minute = 5

[sources.phones.clusters.mission.device_pools]
"DP_M" = "Finance"
"""


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Every cucm source the CLI builds waits on this fake clock."""
    fake = FakeClock()
    monkeypatch.setitem(
        sources.PHONES_KINDS,
        "cucm",
        functools.partial(CucmClustersSource, clock=fake, sleep=fake.sleep),
    )
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return fake


def serve_hq(mock: responses.RequestsMock) -> None:
    mock.post(AXL_URL, body=sql_response(SQL_ROWS), content_type="text/xml; charset=utf-8")
    mock.post(HQ_RIS, body=ris_response(RIS_NODES, state_info="s1"), content_type="text/xml")


def serve_mission(mock: responses.RequestsMock, *, healthy: bool = True) -> None:
    mock.post(MISSION_AXL, body=sql_response(MISSION_ROWS), content_type="text/xml")
    if healthy:
        mock.post(MISSION_RIS, body=ris_response([]), content_type="text/xml")
    else:
        mock.post(MISSION_RIS, status=500, body=b"<html>HTTP Status 500</html>")


def test_both_clusters_feed_one_night(
    tmp_path: Path, rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    serve_hq(rsps)
    serve_mission(rsps)
    org = orgfiles.write_org(tmp_path / "org", config=config_with(phones=two_clusters()))
    assert run(org) == 0
    reports = org.parent / "reports" / AS_OF
    # The mission's phone is a finding of its own beside hq's phone of the same name,
    # routed by the mission's own device pools.
    assert expected_rows(reports) == orgfiles.EXPECTED | {MISSION_FINDING}
    rows = read_csv(reports / "findings.csv")
    assert list(rows[0])[:4] == ["department", "resource_kind", "subject", "cluster"]
    lobby = {r["cluster"] for r in rows if r["subject"] == "SEP000000000003"}
    assert lobby == {"hq", "mission"}
    assert {r["cluster"] for r in rows if r["resource_kind"] == "license"} == {""}
    summary = json.loads((reports / "run_summary.json").read_text(encoding="utf-8"))
    assert summary["counts"]["phones_read.hq"] == len(SQL_ROWS)
    assert summary["counts"]["phones_read.mission"] == 1
    assert summary["counts"]["phones_read"] == len(SQL_ROWS) + 1


def test_a_failing_cluster_fails_the_night_and_sends_nothing(
    tmp_path: Path,
    rsps: responses.RequestsMock,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    org = orgfiles.write_org(tmp_path / "org")
    assert run(org) == 0  # a first good night on the CSV inventory
    root = org.parent
    before = (db_counts(root / "licensewatch.db"), files_under(root / "outbox"))
    reports = files_under(root / "reports")
    capsys.readouterr()
    orgfiles.write_org(root, config=config_with(phones=two_clusters()))
    serve_hq(rsps)
    serve_mission(rsps, healthy=False)
    assert main_run_later(org) == EXIT_RUNTIME == 1
    err = capsys.readouterr().err
    assert "licensewatch: error: CUCM cluster mission: RisPort selectCmDeviceExt" in err
    assert "optional = true" in err
    assert (db_counts(root / "licensewatch.db"), files_under(root / "outbox")) == before
    assert files_under(root / "reports") == reports


def main_run_later(config: Path) -> int:
    """A run of the next day (the first good night was AS_OF)."""
    return main(["run", "--config", str(config), "--as-of", "2020-01-01"])


def test_an_optional_failing_cluster_is_left_out_and_said_so(
    tmp_path: Path, rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    serve_hq(rsps)
    serve_mission(rsps, healthy=False)
    org = orgfiles.write_org(
        tmp_path / "org", config=config_with(phones=two_clusters(optional=True))
    )
    assert run(org) == 0
    reports = org.parent / "reports" / AS_OF
    assert expected_rows(reports) == orgfiles.EXPECTED
    summary = json.loads((reports / "run_summary.json").read_text(encoding="utf-8"))
    note = next(n for n in summary["notes"] if "cluster mission" in n)
    assert "(optional) failed and is left out of this night" in note and "HTTP 500" in note
    assert "phones_read.mission" not in summary["counts"]
    assert summary["counts"]["phones_read.hq"] == len(SQL_ROWS)
    assert summary["status"] == "ok" and summary["notices"] > 0
    assert len([c for c in rsps.calls if c.request.url == MISSION_RIS]) == 2  # one retry


def test_a_saved_pull_of_both_clusters_replays_to_the_same_reports(
    tmp_path: Path, rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    serve_hq(rsps)
    serve_mission(rsps)
    live = orgfiles.write_org(tmp_path / "live", config=config_with(phones=two_clusters()))
    assert run(live) == 0
    other = orgfiles.write_org(tmp_path / "other", config=config_with(phones=two_clusters()))
    saved = tmp_path / "pulls" / AS_OF
    assert pull(other, saved) == 0
    assert sorted(files_under(saved / "phones")) == [
        "hq/axl_0001.xml",
        "hq/manifest.json",
        "hq/risport_0001.xml",
        "manifest.json",
        "mission/axl_0001.xml",
        "mission/manifest.json",
        "mission/risport_0001.xml",
    ]
    calls = len(rsps.calls)
    replay = (
        f'[sources.phones]\nkind = "cucm-export"\npath = "{(saved / "phones").as_posix()}"\n'
        'owner_match = "upn_local_part"\n\n[sources.phones.clusters.mission.device_pools]\n'
        '"DP_M" = "Finance"\n'
    )
    assert run(write_config(other.parent, "replay.toml", config_with(phones=replay))) == 0
    assert len(rsps.calls) == calls
    for name in ("findings.csv", "finance_summary.csv", "unassigned.csv"):
        replayed = (other.parent / "reports" / AS_OF / name).read_bytes()
        assert replayed == (live.parent / "reports" / AS_OF / name).read_bytes(), name


def test_the_single_cluster_form_keeps_findings_csv_as_it_was(
    tmp_path: Path, rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    serve_hq(rsps)
    org = orgfiles.write_org(tmp_path / "org", config=config_with(phones=CUCM_PHONES))
    assert run(org) == 0
    reports = org.parent / "reports" / AS_OF
    assert list(read_csv(reports / "findings.csv")[0]) == list(FINDINGS_COLUMNS)
    summary = json.loads((reports / "run_summary.json").read_text(encoding="utf-8"))
    assert summary["counts"]["phones_read.default"] == len(SQL_ROWS)
