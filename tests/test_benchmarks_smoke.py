"""The benchmarks keep working: each runs at a tiny size and prints its figures.

Benchmarks are not tests: nothing here asserts a time or a memory figure, only
that the runs complete, print their tables and make the requests they should.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

from benchmarks import org as orgs
from benchmarks.night import covered, together
from benchmarks.servers import GraphPages

ROOT = Path(__file__).resolve().parents[1]


def _bench(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_the_nightly_run_prints_its_table(tmp_path: Path) -> None:
    out = _bench("benchmarks.run", "--accounts", "300", "--sdk", "--work", str(tmp_path))
    for stage in ("pull accounts (Graph)", "pull phones (AXL + RisPort)", "reconcile", "price"):
        assert stage in out
    assert "whole night" in out and "SMTP delivery" in out
    assert "users 1 for 1 pages (exactly one per page" in out
    assert "result: ok" in out
    assert list(tmp_path.iterdir()) == [], "the work folder is removed"


def test_reconcile_at_scale_runs(tmp_path: Path) -> None:
    out = _bench(
        "benchmarks.reconcile_scale", "--accounts", "300", "--phones", "400",
        "--separations", "60", "--work", str(tmp_path),
    )  # fmt: skip
    assert "400 phones, 60 separations" in out
    assert "reconcile + price" in out and "peak memory" in out


def test_the_pull_benchmarks_run() -> None:
    assert "requests per pull" in _bench("benchmarks.graph_pull", "--users", "700", "--repeat", "1")
    assert "SQL saves" in _bench("benchmarks.cucm_pull", "--phones", "1500")


def test_the_real_limits_benchmark_runs_on_its_simulated_clock() -> None:
    out = _bench(
        "benchmarks.real_limits", "--sizes", "2500", "--clusters", "1,2",
        "--graph-throttle-every", "4",
    )  # fmt: skip
    rows = [
        [cell.strip() for cell in line.split("|")[1:-1]]
        for line in out.splitlines()
        if line.startswith("| 2,500 accounts")
    ]
    assert [row[1] for row in rows] == ["1", "2"], out
    # 5 users pages of 1 simulated second, one refused with a 10 s Retry-After, which was
    # waited on the simulated clock: 15 s, whatever the machine's speed.
    assert all(row[2] == "0:00:15" and row[3].endswith(" / 1") for row in rows), rows
    # One AXL request a cluster, and the 3 RisPort batches of 1,000 phones or fewer.
    assert [row[5] for row in rows] == ["4 / 0", "6 / 0"], rows


def test_the_organization_scales_with_distinct_people(tmp_path: Path) -> None:
    org = orgs.build(tmp_path / "org", 240, as_of=date(2019, 12, 31), phones=500)
    assert org.copies == 1 and org.phones == 500
    # Past the base size, copies of the base get identities of their own.
    ids = orgs._Identities(copies=3)
    user = {"id": "0123abcd-0000", "userPrincipalName": "a.b@x.org", "mail": "A.B@x.org"}
    copies = [ids.user(dict(user, employeeId="7"), c) for c in range(3)]
    assert len({u["id"] for u in copies}) == len({u["userPrincipalName"] for u in copies}) == 3
    assert copies[2]["mail"] == "b2.A.B@x.org" and copies[2]["employeeId"] == "B2-7"


def test_the_graph_stand_in_pages_by_top_and_skiptoken(tmp_path: Path) -> None:
    org = orgs.build(tmp_path / "org", 1000, as_of=date(2019, 12, 31))
    pages = GraphPages(org.graph_dir, org.users)
    pages.base = "https://127.0.0.1:1"
    first = json.loads(pages.page(0, orgs.PAGE_SIZE))
    assert len(first["value"]) == orgs.PAGE_SIZE
    assert first["@odata.nextLink"].startswith("https://127.0.0.1:1/v1.0/users?")
    token = first["@odata.nextLink"].rsplit("$skiptoken=", 1)[1]
    assert orgs.offset_of(token) == orgs.PAGE_SIZE
    small = json.loads(pages.page(450, 100))
    assert [u["id"] for u in small["value"]] == [
        u["id"] for u in first["value"][450:] + json.loads(pages.page(500, 500))["value"][:50]
    ]
    seen, offset = 0, 0
    while True:
        doc = json.loads(pages.page(offset, 300))
        seen += len(doc["value"])
        if "@odata.nextLink" not in doc:
            break
        offset = orgs.offset_of(doc["@odata.nextLink"].rsplit("$skiptoken=", 1)[1])
    assert seen == org.users


def test_stages_that_overlapped_are_grouped_and_counted_once() -> None:
    spans = [("a", 0.0, 2.0), ("b", 1.0, 3.0), ("c", 5.0, 6.0), ("d", 5.5, 7.0), ("e", 8.0, 9.0)]
    assert together(spans) == [
        {"names": ["a", "b"], "seconds": 3.0},
        {"names": ["c", "d"], "seconds": 2.0},
    ]
    assert covered(spans) == 6.0
    assert together([("a", 0.0, 1.0), ("b", 1.0, 2.0)]) == []  # one after the other
