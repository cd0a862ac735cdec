"""The cucm and cucm-export kinds end to end: options, the PHONES frame, saving and replaying."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import responses

from licensewatch import model, progress
from licensewatch.config import SourceSettings
from licensewatch.errors import ConfigError, InputError, SourceError
from licensewatch.sources.cucm.export import CucmExportSource
from licensewatch.sources.cucm.live import CucmSource
from licensewatch.sources.interface import Recordable
from tests.sources.cucm.conftest import (
    AXL_URL,
    PASSWORD,
    PASSWORD_ENV,
    RIS_URL,
    Dev,
    FakeClock,
    Node,
    body_texts,
    fixture,
    list_phone_response,
    names,
    ris_response,
    sql_response,
    texts,
    too_large,
)

PHONES = names(2100)
T0 = 1_700_000_000


def sql_row(i: int, name: str) -> dict[str, str | None]:
    return {
        "name": name,
        "description": f"Desk {i}" if i % 4 else None,
        "model": "Cisco 8845",
        "devicepool": "DP_GENEVA_FINANCE",
        "owner": f"user{i}" if i % 2 else None,
        "dnorpattern": str(10_000 + i),
        "lastseen": str(1_680_000_000 + i) if i % 5 == 0 else "0",
    }


class FakeCluster:
    """AXL and RisPort of a 2,100-phone cluster, answering in the documented shapes.

    Phone i: i % 3 == 0 registered on sub1 (and listed, older, as unregistered on
    sub2); i % 3 == 1 unregistered on sub2; i % 3 == 2 unknown to every node.
    The third RisPort batch answers with nil CmNodes; the second is refused once
    for rate control.
    """

    def __init__(self, http: responses.RequestsMock, *, sql: bool = True) -> None:
        self.index = {n: i for i, n in enumerate(PHONES)}
        self.ris_calls = 0
        if sql:
            http.post(AXL_URL, status=500, body=too_large(2100, 1100))
            http.post(
                AXL_URL, body=sql_response([sql_row(i, n) for i, n in enumerate(PHONES[:1099])])
            )
            http.post(
                AXL_URL,
                body=sql_response([sql_row(i + 1099, n) for i, n in enumerate(PHONES[1099:])]),
            )
        else:
            for start in range(0, 2100, 1000):
                rows = [
                    {"name": n, "model": "Cisco 8845", "ownerUserName": None}
                    for n in PHONES[start : start + 1000]
                ]
                http.post(AXL_URL, body=list_phone_response(rows))
        http.add_callback(responses.POST, RIS_URL, callback=self.risport)

    def risport(self, request: Any) -> tuple[int, dict[str, str], bytes]:
        self.ris_calls += 1
        asked = body_texts(request.body, "Item")
        state = f"state-{self.ris_calls}"
        if self.ris_calls == 2:
            return 500, {}, fixture("risport_ratelimit_fault.xml")
        if asked[0] == PHONES[2000]:
            return 200, {}, ris_response(None, state_info=state)
        sub1, sub2 = [], []
        for n in asked:
            i = self.index[n]
            if i % 3 == 0:
                sub1.append(Dev(n, "Registered", T0 + i))
                sub2.append(Dev(n, "UnRegistered", T0 - 1_000 + i))
            elif i % 3 == 1:
                sub2.append(Dev(n, "UnRegistered", T0 - 5_000))
        return (
            200,
            {},
            ris_response([Node("cucm-sub1", sub1), Node("cucm-sub2", sub2)], state_info=state),
        )


def source(tmp: Path, clock: FakeClock, **options: Any) -> CucmSource:
    settings = SourceSettings(
        feed="phones",
        kind="cucm",
        options={
            "axl_url": AXL_URL,
            "username": "lw_axl_reader",
            "password_env": PASSWORD_ENV,
            **options,
        },
        base_dir=tmp,
    )
    return CucmSource(settings, clock=clock, sleep=clock.sleep)


def export(folder: Path, **options: Any) -> CucmExportSource:
    settings = SourceSettings(
        feed="phones", kind="cucm-export", options={"path": str(folder), **options}, base_dir=folder
    )
    return CucmExportSource(settings)


def ts(seconds: int) -> pd.Timestamp:
    return pd.Timestamp(seconds, unit="s", tz="UTC")


def test_pull_builds_the_phones_frame(
    tmp_path: Path,
    http: responses.RequestsMock,
    clock: FakeClock,
    env: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    cluster = FakeCluster(http)
    caplog.set_level(logging.INFO, logger="licensewatch")
    pulled = source(tmp_path, clock).pull()
    # Not a terminal: progress comes as log lines (one after the 60 s rate-control wait). The
    # second batch waits it in the worker thread while the first batch's devices are read, so
    # that line counts 1,000 or 2,000 phones, whichever the clock saw first.
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("CUCM Ris")]
    assert progress[0].startswith(
        tuple(f"CUCM RisPort: {n}/2,100 phones" for n in ("1,000", "2,000"))
    )
    assert progress[-1].startswith("CUCM RisPort: 2,100/2,100 phones") and "(done)" in progress[-1]
    phones = pulled.phones
    assert list(phones.columns) == list(model.PHONES)
    assert phones.dtypes.astype(str).to_dict() == model.PHONES
    assert len(phones) == 2100 and phones["device_name"].tolist() == PHONES
    # 3 AXL (refused whole query + 2 pages), 4 RisPort (3 batches + 1 after rate control).
    assert pulled.requests == 7 and cluster.ris_calls == 4
    assert clock.sleeps == [60.0]
    assert any("rate control" in n for n in pulled.notes)
    by = phones.set_index("device_name")
    registered = by.loc[PHONES[3]]  # newest entry (sub1, Registered) wins over sub2's older one
    assert registered["registration_status"] == "registered"
    assert registered["status_changed_at"] == ts(T0 + 3)
    assert registered["last_seen_at"] == ts(T0 + 3)
    assert registered["owner_user_id"] == "user3" and registered["directory_number"] == "10003"
    seen_long_ago = by.loc[PHONES[10]]  # i % 3 == 1: unregistered on sub2; lastseen from AXL
    assert seen_long_ago["registration_status"] == "unregistered"
    assert seen_long_ago["status_changed_at"] == ts(T0 - 5_000)
    assert seen_long_ago["last_seen_at"] == ts(1_680_000_010)
    unknown_to_nodes = by.loc[PHONES[11]]  # i % 3 == 2: no node reports it
    assert unknown_to_nodes["registration_status"] == "unregistered"
    assert pd.isna(unknown_to_nodes["status_changed_at"]) and pd.isna(
        unknown_to_nodes["last_seen_at"]
    )
    nil_batch = by.loc[PHONES[2001]]  # third batch: CmNodes xsi:nil
    assert nil_batch["registration_status"] == "unregistered"
    assert pd.isna(by.loc[PHONES[0], "owner_user_id"]) and pd.isna(by.loc[PHONES[0], "description"])
    assert phones["registration_status"].value_counts().to_dict() == {
        "unregistered": 1433,
        "registered": 667,
    }


def test_saved_pull_replays_to_an_identical_frame(
    tmp_path: Path, http: responses.RequestsMock, clock: FakeClock, env: dict[str, str]
) -> None:
    FakeCluster(http)
    live = source(tmp_path, clock)
    assert isinstance(live, Recordable)
    folder = tmp_path / "saved" / "phones"
    live.record_to(folder)
    pulled = live.pull()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["inventory"] == "sql"
    assert [f["file"] for f in manifest["files"]] == [
        "axl_0001.xml",
        "axl_0002.xml",
        "axl_0003.xml",
        "risport_0001.xml",
        "risport_0002.xml",
        "risport_0003.xml",
        "risport_0004.xml",
    ]
    assert manifest["files"][0]["fault"].startswith("Query request too large")
    assert manifest["files"][4]["fault"].startswith("AxisFault: Exceeded allowed rate")
    assert (folder / "risport_0002.xml").read_bytes() == fixture("risport_ratelimit_fault.xml")
    assert PASSWORD not in "".join(p.read_text() for p in folder.iterdir())
    http.reset()  # the replay must not touch the network
    replayed = export(folder).pull()
    pd.testing.assert_frame_equal(replayed.phones, pulled.phones)
    assert replayed.requests == 0


def test_list_phone_inventory_takes_last_seen_from_risport_only(
    tmp_path: Path, http: responses.RequestsMock, clock: FakeClock, env: dict[str, str]
) -> None:
    FakeCluster(http, sql=False)
    phones = source(tmp_path, clock, inventory="listphone").pull().phones.set_index("device_name")
    assert phones.loc[PHONES[3], "last_seen_at"] == ts(T0 + 3)
    assert pd.isna(phones["last_seen_at"].iloc[10])
    assert texts(http.calls[0], "first") == ["1000"]


def test_a_failed_pull_raises_and_its_saved_folder_is_not_replayed(
    tmp_path: Path, http: responses.RequestsMock, clock: FakeClock, env: dict[str, str]
) -> None:
    http.post(AXL_URL, body=sql_response([{"name": "SEPA", "lastseen": "0"}]))
    http.post(RIS_URL, body=ris_response([Node("cucm-sub1", code="NodeNotResponding")]))
    live = source(tmp_path, clock, max_retries=1)
    live.record_to(tmp_path / "bad")
    with pytest.raises(SourceError, match="did not answer") as failed:
        live.pull()
    # Its RisPort bar (alive in the traceback kept) no longer counts: heartbeats show again.
    assert failed.traceback and not progress.counting()
    # Kept for diagnosis in incomplete/, with a manifest saying why; never in the folder itself.
    assert [p.name for p in (tmp_path / "bad").iterdir()] == ["incomplete"]
    kept = tmp_path / "bad" / "incomplete"
    manifest = json.loads((kept / "manifest.json").read_text())
    assert manifest["complete"] is False and "did not answer" in manifest["error"]
    files = [f["file"] for f in manifest["files"]]
    assert files == ["axl_0001.xml", "risport_0001.xml", "risport_0002.xml"]  # one retry
    assert sorted(p.name for p in kept.iterdir()) == sorted([*files, "manifest.json"])
    with pytest.raises(InputError, match="did not complete") as caught:
        export(tmp_path / "bad").pull()
    assert caught.value.problems[0].file == str(kept / "manifest.json")


def test_a_save_after_a_failed_pull_replaces_its_incomplete_folder(
    tmp_path: Path, http: responses.RequestsMock, clock: FakeClock, env: dict[str, str]
) -> None:
    FakeCluster(http)
    folder = tmp_path / "saved"
    (folder / "incomplete").mkdir(parents=True)
    (folder / "incomplete" / "manifest.json").write_text("{}")
    live = source(tmp_path, clock)
    live.record_to(folder)
    pulled = live.pull()
    assert not (folder / "incomplete").exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no staging left
    pd.testing.assert_frame_equal(export(folder).pull().phones, pulled.phones)


def test_saving_into_a_folder_with_a_saved_pull_is_refused(
    tmp_path: Path, http: responses.RequestsMock, clock: FakeClock, env: dict[str, str]
) -> None:
    (tmp_path / "manifest.json").write_text("{}")
    live = source(tmp_path, clock)
    live.record_to(tmp_path)
    with pytest.raises(ConfigError, match="already holds a saved pull"):
        live.pull()
    assert len(http.calls) == 0


def test_missing_password_names_the_variable(tmp_path: Path, clock: FakeClock) -> None:
    with pytest.raises(ConfigError, match=PASSWORD_ENV) as err:
        CucmSource(
            SourceSettings(
                "phones",
                "cucm",
                {"axl_url": AXL_URL, "username": "u", "password_env": PASSWORD_ENV},
                tmp_path,
            ),
            environ={"OTHER": PASSWORD},
        )
    assert PASSWORD not in err.value.one_line()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"axl_ur": "x"}, "unknown key 'axl_ur'.*valid keys are: kind, axl_url, axl_version"),
        ({"owner_match": "nickname"}, "owner_match must be one of upn, upn_local_part"),
        ({"inventory": "graph"}, "inventory must be one of sql, listphone"),
        ({"risport_batch_size": 5000}, "risport_batch_size must be between 1 and 1000"),
        ({"risport_rate_per_minute": 0}, "risport_rate_per_minute must be between"),
        ({"verify_tls": "no"}, "verify_tls must be bool"),
        ({"ca_bundle": "missing.pem"}, "ca_bundle names .*missing.pem, which does not exist"),
        ({"axl_url": "cucm:8443/axl"}, "axl_url must be an https:// URL"),
        ({"axl_url": "http://cucm:8443/axl/"}, "axl_url must be an https:// URL"),
        ({"risport_url": "http://cucm:8443/ris"}, "risport_url must be an https:// URL"),
        ({"axl_version": "twelve"}, "axl_version must be a version"),
    ],
)
def test_bad_options_are_config_errors(
    tmp_path: Path, clock: FakeClock, env: dict[str, str], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        source(tmp_path, clock, **options)


def test_defaults_and_derived_options(
    tmp_path: Path, clock: FakeClock, env: dict[str, str]
) -> None:
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    o = source(tmp_path, clock, axl_version=14.0, ca_bundle="ca.pem").options
    assert o.risport_url == RIS_URL and o.axl_version == "14.0"
    assert o.verify == str(tmp_path / "ca.pem") and o.rate_per_minute == 15
    assert (o.batch_size, o.inventory, o.owner_match) == (1000, "sql", "upn")


def test_export_options_and_bad_folders(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key"):
        export(tmp_path, axl_url=AXL_URL)
    with pytest.raises(InputError, match="no saved CUCM pull"):
        export(tmp_path).check()
    (tmp_path / "manifest.json").write_text(
        json.dumps(
            {
                "format": "licensewatch-cucm-pull/1",
                "complete": True,
                "inventory": "sql",
                "files": [{"file": "../../etc/passwd", "service": "axl"}],
            }
        )
    )
    with pytest.raises(InputError, match="files entry 1: not a saved answer file"):
        export(tmp_path).pull()
