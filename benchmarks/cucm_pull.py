"""Benchmark: the live CUCM source against an in-process stand-in for AXL and RisPort70.

No network: a ``requests`` transport adapter answers for ``https://127.0.0.1:8443``
in the documented wire formats, on a simulated clock that the source shares
(its waits advance the clock instead of sleeping; each answer advances it by a
modelled latency). The stand-in enforces what the real call manager does:
AXL refuses SQL answers over ``--sql-row-limit`` rows with the "Query request
too large … Suggestive Row Fetch" fault, and RisPort counts requests per
minute and answers ``Server.RateControl`` above ``--server-rate`` (the answers
are :class:`benchmarks.cucm_server.CucmResponder`'s, shared with the HTTPS
server of ``benchmarks.servers``).

Prints, for the SQL and the listPhone inventory, the requests sent and the
simulated seconds for N phones, next to the floor the RisPort rate limit sets:
ceil(N / 1000) requests at 15 a minute.

    python -m benchmarks.cucm_pull --phones 60000
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from benchmarks.cucm_server import Answer, CucmResponder, ServedPhone
from licensewatch.config import SourceSettings
from licensewatch.sources.cucm.live import CucmSource

BASE = "https://127.0.0.1:8443"
ENV = "LW_BENCH_CUCM_PASSWORD"
T0 = 1_700_000_000


@dataclass
class SimClock:
    """Simulated monotonic seconds; sleeping advances it."""

    now: float = 0.0
    slept: float = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Advance instead of waiting."""
        self.now += seconds
        self.slept += seconds


@dataclass
class Latency:
    """Modelled answer times (seconds): a fixed part plus a part per row or device."""

    sql_base: float = 0.5
    sql_per_row: float = 0.0001
    list_base: float = 0.3
    list_per_phone: float = 0.0002
    ris_base: float = 0.5
    ris_per_device: float = 0.001
    fault: float = 0.05

    def of(self, answer: Answer) -> float:
        """How long the call manager takes to give ``answer``."""
        if answer.fault == "too_large":
            return self.sql_base
        if answer.fault:
            return self.fault
        base, per = {
            "executeSQLQuery": (self.sql_base, self.sql_per_row),
            "listPhone": (self.list_base, self.list_per_phone),
        }.get(answer.operation, (self.ris_base, self.ris_per_device))
        return base + per * answer.units


def synthetic_phones(count: int) -> list[ServedPhone]:
    """``count`` phones on two nodes: 25 % known to no node, 25 % unregistered, 5 % on both."""
    return [
        ServedPhone(
            name=f"SEP{i:012X}",
            description=f"Desk {i}",
            model="Cisco 8845",
            device_pool=f"DP_{i % 40}",
            owner=f"user{i}" if i % 10 else "",
            directory_number=str(100_000 + i),
            last_seen=T0 - 86_400 * (i % 400) if i % 2 else 0,
            status=None if i % 4 == 3 else "UnRegistered" if i % 4 == 2 else "Registered",
            stamp=None if i % 4 == 3 else T0 + i,
            node=0 if i % 2 else 1,
            also_other_node=i % 20 == 0,
        )
        for i in range(count)
    ]


@dataclass
class FakeCucm(BaseAdapter):
    """AXL and RisPort70 of ``phones`` phones, answered in process on the simulated clock."""

    phones: int
    clock: SimClock
    sql_row_limit: int = 17_000
    server_rate: int = 15
    latency: Latency = field(default_factory=Latency)

    def __post_init__(self) -> None:
        super().__init__()
        self.responder = CucmResponder(
            synthetic_phones(self.phones),
            clock=self.clock,
            sql_row_limit=self.sql_row_limit,
            risport_rate=self.server_rate,
        )

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Answer one POST, advancing the simulated clock by the modelled latency."""
        action = str(request.headers.get("SOAPAction", "")).strip('"')
        assert isinstance(request.body, bytes)
        answer = self.responder.answer(action.rsplit(" ", 1)[-1], request.body)
        self.clock.now += self.latency.of(answer)
        response = requests.Response()
        response.status_code = answer.status
        response._content = answer.body
        response.headers = CaseInsensitiveDict({"Content-Type": "text/xml; charset=utf-8"})
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to release."""


@dataclass(frozen=True)
class Result:
    """One measured pull."""

    inventory: str
    axl_requests: int
    risport_requests: int
    rate_control_faults: int
    simulated_s: float
    rate_limit_wait_s: float
    wall_s: float
    phones: int


def measure(phones: int, inventory: str, args: argparse.Namespace) -> Result:
    """Pull ``phones`` phones from a fresh stand-in with ``inventory`` (sql or listphone)."""
    clock = SimClock()
    fake = FakeCucm(phones, clock, sql_row_limit=args.sql_row_limit, server_rate=args.server_rate)
    session = requests.Session()
    session.mount(BASE, fake)
    settings = SourceSettings(
        feed="phones",
        kind="cucm",
        options={
            "axl_url": f"{BASE}/axl/",
            "username": "bench",
            "password_env": ENV,
            "inventory": inventory,
            "risport_rate_per_minute": args.rate,
        },
        base_dir=Path.cwd(),
    )
    source = CucmSource(
        settings, session=session, clock=clock, sleep=clock.sleep, environ={ENV: "bench"}
    )
    started = time.perf_counter()
    pulled = source.pull()
    wall = time.perf_counter() - started
    stats = source.stats
    assert stats is not None and len(pulled.phones) == phones
    return Result(
        inventory=stats.inventory,
        axl_requests=stats.axl_requests,
        risport_requests=stats.risport_requests,
        rate_control_faults=stats.rate_control_faults,
        simulated_s=clock.now,
        rate_limit_wait_s=stats.rate_limit_wait_s,
        wall_s=wall,
        phones=len(pulled.phones),
    )


def main() -> None:
    """Run both inventory methods and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=60_000)
    parser.add_argument("--rate", type=int, default=15, help="client RisPort requests a minute")
    parser.add_argument("--server-rate", type=int, default=15, help="server's RisPort limit")
    parser.add_argument("--sql-row-limit", type=int, default=17_000)
    args = parser.parse_args()

    batches = math.ceil(args.phones / 1000)
    floor_burst = (math.ceil(batches / args.server_rate) - 1) * 60.0
    floor_steady = batches / args.server_rate * 60.0
    print(f"{args.phones:,} phones; RisPort floor: {batches} requests at {args.server_rate}/min")
    print(
        f"  = {floor_burst:.0f} s if the first {args.server_rate} may go at once "
        f"(sliding window), {floor_steady:.0f} s at the steady rate"
    )
    header = f"{'inventory':10} {'AXL':>5} {'RisPort':>8} {'faults':>7} {'total':>6} "
    print(header + f"{'simulated s':>12} {'of floor':>9} {'wait s':>7} {'wall s':>7}")
    results = [measure(args.phones, method, args) for method in ("sql", "listphone")]
    for r in results:
        total = r.axl_requests + r.risport_requests
        print(
            f"{r.inventory:10} {r.axl_requests:>5} {r.risport_requests:>8} "
            f"{r.rate_control_faults:>7} {total:>6} {r.simulated_s:>12.1f} "
            f"{f'{r.simulated_s / floor_burst:.2f}x' if floor_burst else '-':>9} "
            f"{r.rate_limit_wait_s:>7.1f} {r.wall_s:>7.2f}"
        )
    sql, lp = results
    print(
        f"SQL saves {lp.axl_requests - sql.axl_requests} AXL requests and "
        f"{lp.simulated_s - sql.simulated_s:.1f} simulated s, and gives last-seen dates"
    )


if __name__ == "__main__":
    main()
