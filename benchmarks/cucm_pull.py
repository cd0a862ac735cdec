"""Benchmark: the live CUCM source against an in-process stand-in for AXL and RisPort70.

No network: a ``requests`` transport adapter answers for ``https://127.0.0.1:8443``
in the documented wire formats, on a simulated clock that the source shares
(its waits advance the clock instead of sleeping; each answer advances it by a
modelled latency). The stand-in enforces what the real call manager does:
AXL refuses SQL answers over ``--sql-row-limit`` rows with the "Query request
too large … Suggestive Row Fetch" fault, and RisPort counts requests per
minute and answers ``Server.RateControl`` above ``--server-rate``.

Prints, for the SQL and the listPhone inventory, the requests sent and the
simulated seconds for N phones, next to the floor the RisPort rate limit sets:
ceil(N / 1000) requests at 15 a minute.

    python -m benchmarks.cucm_pull --phones 60000
"""

from __future__ import annotations

import argparse
import math
import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from licensewatch.config import SourceSettings
from licensewatch.sources.cucm import CucmSource

BASE = "https://127.0.0.1:8443"
ENV = "LW_BENCH_CUCM_PASSWORD"
SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"
AXL_NS = "http://www.cisco.com/AXL/API/12.5"
PAGING = re.compile(r"select skip (\d+) first (\d+) ")
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


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _envelope(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAPENV}">'
        f"<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    ).encode()


def _fault(code: str, message: str) -> bytes:
    m = escape(message)
    return _envelope(
        f"<soapenv:Fault><faultcode>{code}</faultcode><faultstring>{m}</faultstring>"
        f"<detail><axlError><axlcode>-1</axlcode><axlmessage>{m}</axlmessage></axlError>"
        "</detail></soapenv:Fault>"
    )


@dataclass
class FakeCucm(BaseAdapter):
    """AXL and RisPort70 of a cluster of ``phones`` phones on two subscriber nodes."""

    phones: int
    clock: SimClock
    sql_row_limit: int = 17_000
    server_rate: int = 15
    latency: Latency = field(default_factory=Latency)
    calls: Counter[str] = field(default_factory=Counter)
    per_minute: Counter[int] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        super().__init__()
        self.names = [f"SEP{i:012X}" for i in range(self.phones)]
        self.index = {n: i for i, n in enumerate(self.names)}

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
        assert request.body is not None
        root = SafeET.fromstring(request.body)
        operation = action.rsplit(" ", 1)[-1]
        self.calls[operation] += 1
        if operation == "executeSQLQuery":
            status, body = self._sql(root)
        elif operation == "listPhone":
            status, body = self._list_phone(root)
        else:
            status, body = self._risport(root)
        response = requests.Response()
        response.status_code = status
        response._content = body
        response.headers = CaseInsensitiveDict({"Content-Type": "text/xml; charset=utf-8"})
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to release."""

    def _text(self, root: Any, name: str) -> list[str]:
        return [e.text or "" for e in root.iter() if _local(e.tag) == name]

    def _row(self, i: int) -> str:
        seen = str(T0 - 86_400 * (i % 400)) if i % 2 else "0"
        owner = f"<owner>user{i}</owner>" if i % 10 else "<owner/>"
        return (
            f"<row><name>{self.names[i]}</name><description>Desk {i}</description>"
            f"<model>Cisco 8845</model><devicepool>DP_{i % 40}</devicepool>{owner}"
            f"<dnorpattern>{100_000 + i}</dnorpattern><lastseen>{seen}</lastseen></row>"
        )

    def _sql(self, root: Any) -> tuple[int, bytes]:
        sql = self._text(root, "sql")[0]
        paging = PAGING.match(sql)
        skip, first = (int(paging.group(1)), int(paging.group(2))) if paging else (0, self.phones)
        rows = range(skip, min(skip + first, self.phones))
        if len(rows) >= self.sql_row_limit:
            self.clock.now += self.latency.sql_base
            return 500, _fault(
                "soapenv:Server",
                f"Query request too large. Total rows matched: {len(rows)} rows. "
                f"Suggestive Row Fetch: less than {self.sql_row_limit} rows",
            )
        self.clock.now += self.latency.sql_base + self.latency.sql_per_row * len(rows)
        body = "".join(self._row(i) for i in rows)
        return 200, _envelope(
            f'<ns:executeSQLQueryResponse xmlns:ns="{AXL_NS}"><return>{body}</return>'
            "</ns:executeSQLQueryResponse>"
        )

    def _list_phone(self, root: Any) -> tuple[int, bytes]:
        skip, first = int(self._text(root, "skip")[0]), int(self._text(root, "first")[0])
        rows = range(skip, min(skip + first, self.phones))
        self.clock.now += self.latency.list_base + self.latency.list_per_phone * len(rows)
        body = "".join(
            f'<phone uuid="{{{i:08X}}}"><name>{self.names[i]}</name><description>Desk {i}'
            f"</description><product>Cisco 8845</product><model>Cisco 8845</model>"
            f"<devicePoolName>DP_{i % 40}</devicePoolName><ownerUserName>user{i}"
            "</ownerUserName></phone>"
            for i in rows
        )
        return 200, _envelope(
            f'<ns:listPhoneResponse xmlns:ns="{AXL_NS}"><return>{body}</return>'
            "</ns:listPhoneResponse>"
        )

    def _risport(self, root: Any) -> tuple[int, bytes]:
        minute = int(self.clock.now // 60)
        self.per_minute[minute] += 1
        if self.per_minute[minute] > self.server_rate:
            self.clock.now += 0.05
            return 500, _fault(
                "ns1:Server.RateControl",
                "AxisFault: Exceeded allowed rate for Reatime information. Current allowed "
                f"rate for realtime information is {self.server_rate} requests per minute.",
            )
        asked = self._text(root, "Item")
        self.clock.now += self.latency.ris_base + self.latency.ris_per_device * len(asked)
        nodes: dict[str, list[str]] = {"cucm-sub1": [], "cucm-sub2": []}
        for name in asked:
            i = self.index[name]
            if i % 4 == 3:
                continue  # 25 % are known to no node: unregistered
            home, other = ("cucm-sub1", "cucm-sub2") if i % 2 else ("cucm-sub2", "cucm-sub1")
            status = "Registered" if i % 4 != 2 else "UnRegistered"
            nodes[home].append(self._device(name, status, T0 + i))
            if i % 20 == 0:  # 5 % also listed, older, under the other node
                nodes[other].append(self._device(name, "UnRegistered", T0 - 3_600 + i))
        items = "".join(
            f"<ns1:item><ns1:ReturnCode>Ok</ns1:ReturnCode><ns1:Name>{node}</ns1:Name>"
            f"<ns1:NoChange>false</ns1:NoChange><ns1:CmDevices>{''.join(devs)}</ns1:CmDevices>"
            "</ns1:item>"
            for node, devs in nodes.items()
        )
        found = sum(len(d) for d in nodes.values())
        return 200, _envelope(
            '<ns1:selectCmDeviceResponse xmlns:ns1="http://schemas.cisco.com/ast/soap">'
            "<ns1:selectCmDeviceReturn><ns1:SelectCmDeviceResult>"
            f"<ns1:TotalDevicesFound>{found}</ns1:TotalDevicesFound><ns1:CmNodes>{items}"
            "</ns1:CmNodes></ns1:SelectCmDeviceResult>"
            f"<ns1:StateInfo>s{minute}</ns1:StateInfo></ns1:selectCmDeviceReturn>"
            "</ns1:selectCmDeviceResponse>"
        )

    @staticmethod
    def _device(name: str, status: str, stamp: int) -> str:
        return (
            f"<ns1:item><ns1:Name>{name}</ns1:Name><ns1:DeviceClass>Phone</ns1:DeviceClass>"
            f"<ns1:Status>{status}</ns1:Status><ns1:StatusReason>0</ns1:StatusReason>"
            f"<ns1:TimeStamp>{stamp}</ns1:TimeStamp><ns1:Protocol>SIP</ns1:Protocol></ns1:item>"
        )


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
