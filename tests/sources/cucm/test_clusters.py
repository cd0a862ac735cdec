"""Several CUCM clusters: their config, a concurrent pull over loopback, keys and the brake.

The concurrency test serves two clusters from ``benchmarks.cucm_server`` over
HTTPS on 127.0.0.1; each cluster's first RisPort request waits at a barrier
the other cluster's must reach too, so the pull passes only if both clusters
are in flight at once (no wall-clock assertion).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from benchmarks.cucm_server import (
    PASSWORD,
    USERNAME,
    Answer,
    CucmResponder,
    ServedPhone,
    cucm_handler,
)
from benchmarks.servers import TlsServer, free_port, self_signed
from licensewatch import model
from licensewatch.config import Policy, SourceSettings
from licensewatch.errors import ConfigError, SourceError
from licensewatch.rules import brake
from licensewatch.rules.brake import Baseline
from licensewatch.rules.phone_history import HISTORY, apply_history, carry_over
from licensewatch.sources.cucm.clusters import pool_departments
from licensewatch.sources.cucm.multi import CucmClustersSource
from tests.sources.cucm.conftest import AXL_URL, FakeClock

ENV = "LW_TEST_CLUSTER_PASSWORD"
T0 = 1_704_067_200


def settings(base: Path, clusters: dict[str, dict[str, Any]], **top: Any) -> SourceSettings:
    """``[sources.phones]`` naming ``clusters``."""
    return SourceSettings("phones", "cucm", {**top, "clusters": clusters}, base)


def cluster(url: str = AXL_URL, **extra: Any) -> dict[str, Any]:
    return {"axl_url": url, "username": USERNAME, "password_env": ENV, **extra}


def build(source_settings: SourceSettings, clock: FakeClock | None = None) -> CucmClustersSource:
    fake = clock or FakeClock()
    return CucmClustersSource(
        source_settings, clock=fake, sleep=fake.sleep, environ={ENV: PASSWORD}
    )


CONFIG_ERRORS = [
    pytest.param(
        {"clusters": {"hq": cluster()}, "axl_url": AXL_URL},
        r"unknown key 'axl_url' in \[sources\.phones\] \(kind 'cucm'\).*owner_match, clusters",
        id="single-form-key-beside-clusters",
    ),
    pytest.param(
        {"clusters": {"hq": cluster(bogus=1)}},
        r"unknown key 'bogus' in \[sources\.phones\.clusters\.hq\]; valid keys are: axl_url",
        id="unknown-cluster-key",
    ),
    pytest.param(
        {"clusters": {"hq": cluster(owner_match="upn")}},
        r"unknown key 'owner_match' in \[sources\.phones\.clusters\.hq\]",
        id="owner-match-is-the-feed's",
    ),
    pytest.param(
        {"clusters": {"HQ Geneva": cluster()}},
        r"\[sources\.phones\.clusters\.HQ Geneva\]: 'HQ Geneva' is not a cluster name",
        id="bad-name",
    ),
    pytest.param(
        {"clusters": {"hq": {"username": USERNAME, "password_env": ENV}}},
        r"\[sources\.phones\.clusters\.hq\] axl_url is missing",
        id="missing-axl-url",
    ),
    pytest.param(
        {"clusters": {"hq": cluster(risport_rate_per_minute=0)}},
        r"\[sources\.phones\.clusters\.hq\] risport_rate_per_minute must be between 1 and 1000",
        id="rate",
    ),
    pytest.param(
        {"clusters": {"hq": cluster(optional="yes")}},
        r"\[sources\.phones\.clusters\.hq\] optional must be bool, not str",
        id="optional-not-bool",
    ),
    pytest.param(
        {"clusters": {"hq": cluster(device_pools={"DP": 3})}},
        r"\[sources\.phones\.clusters\.hq\] device_pools must map device pool names",
        id="pools",
    ),
    pytest.param(
        {"clusters": {"hq": cluster(password_env="LW_NOT_SET_ANYWHERE")}},
        r"\[sources\.phones\.clusters\.hq\] password_env names LW_NOT_SET_ANYWHERE, which is not",
        id="password-not-set",
    ),
    pytest.param(
        {"clusters": {}}, r"\[sources\.phones\] clusters must be a table of clusters", id="empty"
    ),
]


@pytest.mark.parametrize(("options", "message"), CONFIG_ERRORS)
def test_cluster_config_errors_name_the_table_and_key(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        build(SourceSettings("phones", "cucm", options, tmp_path))


def test_clusters_parse_with_their_own_limits_and_pools(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("x", encoding="utf-8")
    source = build(
        settings(
            tmp_path,
            {
                "hq": cluster(risport_rate_per_minute=15),
                "geneva": cluster(
                    "https://cucm-gva.example.org:8443/axl/",
                    risport_rate_per_minute=4,
                    ca_bundle="ca.pem",
                    optional=True,
                    device_pools={"DP_GVA": "Legal"},
                ),
            },
            owner_match="upn_local_part",
        )
    )
    hq, gva = source.clusters
    assert (hq.cluster, gva.cluster) == ("hq", "geneva")
    assert (hq.options.rate_per_minute, gva.options.rate_per_minute) == (15, 4)
    assert gva.options.risport_url.startswith("https://cucm-gva.example.org:8443/")
    assert gva.options.verify == str(tmp_path / "ca.pem") and hq.options.verify is True
    assert [s.optional for s in source.specs] == [False, True]
    assert pool_departments(source.specs[1].settings) == {}  # a cluster table has no clusters
    top = settings(tmp_path, {"geneva": cluster(device_pools={"DP_GVA": "Legal"})})
    assert pool_departments(top) == {"geneva/DP_GVA": "Legal"}


def test_the_single_form_is_the_default_cluster(tmp_path: Path) -> None:
    options = cluster(owner_match="upn")
    source = build(SourceSettings("phones", "cucm", options, tmp_path))
    assert [c.cluster for c in source.clusters] == [model.DEFAULT_CLUSTER]


def served(prefix: str, count: int) -> list[ServedPhone]:
    return [
        ServedPhone(
            f"SEP{prefix}{i:010X}", f"{prefix} desk {i}", "Cisco 8845", f"DP_{prefix}",
            f"user{i}", str(1000 + i), 0, "Registered", T0 + i, i % 2, False,
        )
        for i in range(count)
    ]  # fmt: skip


class MeetingResponder(CucmResponder):
    """Answers like CucmResponder; the first RisPort request waits for the other cluster's."""

    def __init__(self, phones: list[ServedPhone], barrier: threading.Barrier) -> None:
        super().__init__(phones)
        self.barrier = barrier
        self.met = False

    def answer(self, operation: str, body: bytes) -> Answer:
        if operation == "selectCmDeviceExt" and not self.met:
            self.met = True
            self.barrier.wait()  # BrokenBarrierError (HTTP failure) unless both are here
        return super().answer(operation, body)


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[list[TlsServer], Path]]:
    cert, key = self_signed(tmp_path)
    barrier = threading.Barrier(2, timeout=30)
    servers = [
        TlsServer(cucm_handler(MeetingResponder(served(p, n), barrier)), cert, key, 120).start()
        for p, n in (("AA", 1500), ("BB", 700))
    ]
    yield servers, cert
    for server in servers:
        server.stop()


def test_two_clusters_are_pulled_at_once(
    tmp_path: Path, two_servers: tuple[list[TlsServer], Path]
) -> None:
    servers, cert = two_servers
    source = build(
        settings(
            tmp_path,
            {
                name: cluster(f"{server.base}/axl/", ca_bundle=str(cert), max_retries=0)
                for name, server in zip(("hq", "mission"), servers, strict=True)
            },
        )
    )
    pulled = source.pull()
    assert pulled.clusters == ("hq", "mission") and pulled.skipped_clusters == ()
    counts = pulled.phones.groupby("cluster")["device_name"].count().to_dict()
    assert counts == {"hq": 1500, "mission": 700}
    assert pulled.phones["registration_status"].eq("registered").all()
    assert pulled.complete and pulled.requests == sum(
        s.stats.axl_requests + s.stats.risport_requests for s in source.clusters if s.stats
    )


def test_a_cluster_that_cannot_be_reached_fails_unless_optional(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    hq = TlsServer(cucm_handler(CucmResponder(served("CC", 3))), cert, key, 60).start()
    nowhere = f"https://127.0.0.1:{free_port()}/axl/"  # nothing listens there
    try:
        tables = {
            "hq": cluster(f"{hq.base}/axl/", ca_bundle=str(cert)),
            "mission": cluster(nowhere, max_retries=1),
        }
        clock = FakeClock()
        with pytest.raises(SourceError, match="CUCM cluster mission: AXL") as failed:
            build(settings(tmp_path, tables), clock).pull()
        assert "optional = true" in (failed.value.hint or "")
        assert len(clock.sleeps) == 1  # its one retry, on the fake clock
        tables["mission"]["optional"] = True
        pulled = build(settings(tmp_path, tables)).pull()
    finally:
        hq.stop()
    assert pulled.clusters == ("hq",) and pulled.skipped_clusters == ("mission",)
    assert not pulled.complete  # so no phone is booked as removed
    assert len(pulled.phones) == 3 and set(pulled.phones["cluster"]) == {"hq"}
    assert any("cluster mission (optional) failed" in n for n in pulled.notes)


def test_phone_keys_are_per_cluster_and_bare_for_the_default() -> None:
    phones = model.conform(
        pd.DataFrame(
            {
                "device_name": ["SEPAA", "SEPAA", "SEPAA", "SEPBB"],
                "cluster": ["default", "geneva", None, "Nairobi"],
            }
        ),
        model.PHONES,
    )
    assert model.phone_keys(phones).tolist() == ["sepaa", "geneva/sepaa", "sepaa", "nairobi/sepbb"]


def test_an_optional_cluster_left_out_keeps_its_history() -> None:
    day = pd.Timestamp("2024-03-01", tz="UTC")
    both = model.conform(
        pd.DataFrame(
            {
                "device_name": ["SEPAA", "SEPAA", "SEPCC"],
                "cluster": ["hq", "mission", "default"],
                "registration_status": ["unregistered", "unregistered", "registered"],
            }
        ),
        model.PHONES,
    )
    _, stored = apply_history(both, model.empty(HISTORY), day)
    _, tonight = apply_history(both[both["cluster"] == "hq"], stored, day)
    kept = carry_over(tonight, stored, ("mission", "default"))
    assert sorted(kept["device_key"]) == ["hq/sepaa", "mission/sepaa", "sepcc"]
    assert carry_over(tonight, stored, ()).equals(tonight)


def test_the_brake_checks_each_cluster_against_its_own_last_good_night() -> None:
    policy = Policy()
    before = Baseline(
        "2024-02-29",
        {"phones_read": 10_000, "phones_read.hq": 9_800, "phones_read.mission": 200},
    )
    # The mission lost half its phones: 1 % of the total, but half of that cluster.
    now = {"phones_read": 9_900, "phones_read.hq": 9_800, "phones_read.mission": 100}
    reasons = brake.check(now, before, policy)
    assert reasons == [
        "phones of cluster mission fell from 200 (last good run, 2024-02-29) to 100 (50.0% "
        "fewer), more than max_feed_drop 10%: was the pull complete?"
    ]
    # An optional cluster left out tonight has no count: not compared, and nor is the total.
    assert brake.check({"phones_read": 9_800, "phones_read.hq": 9_800}, before, policy) == []
    # Without per-cluster counts the total is compared as before.
    assert brake.check({"phones_read": 5_000}, Baseline("d", {"phones_read": 10_000}), policy)
    assert brake.cluster_counts({"hq": 3}) == {"phones_read.hq": 3}
