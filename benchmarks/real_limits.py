"""Benchmark: the real nights' pulls under the vendors' limits, on a simulated clock.

The pulls run the job's own code (``GraphSource``, the CUCM cluster sources
and their threads, rate limiter and retries); only time is simulated: every
wait (RisPort's limiter, rate-control faults, Graph's ``Retry-After``, retry
backoff) advances a clock instead of sleeping, and each answer advances it by
a modelled service time. So a pull that takes an hour against a real call
manager finishes here in CPU time, and reports the hour.

Limits modelled:

- RisPort70: 15 ``selectCmDeviceExt`` requests a minute *per cluster* (the
  stand-in answers ``Server.RateControl`` above it, as CUCM does) and at most
  1,000 devices a request; AXL refuses SQL answers over its row limit.
  Clusters are pulled at once, one thread and one clock each; the phones pull
  takes as long as the slowest cluster.
- Graph: users pages of 500 with ``signInActivity``, one after the other; the
  stand-in meters the documented identity-and-access budget (8,000 resource
  units per 10 s for an app in a tenant over 500 users; ``GET /users`` with
  ``$select`` costs 1) and answers 429 with the ``Retry-After`` that budget
  needs, and can also refuse every N-th users request with a fixed
  ``Retry-After`` (``--graph-throttle-every``), for Graph's undocumented
  stricter throttling of ``signInActivity``.

Service times are assumptions, printed with the table: ``--graph-page-s`` per
users page and :class:`benchmarks.cucm_pull.Latency` for AXL and RisPort.

    python -m benchmarks.real_limits --sizes 60000,1000000 --clusters 1,4
"""

from __future__ import annotations

import argparse
import io
import json
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from benchmarks.cucm_pull import BASE, ENV, FakeCucm, SimClock
from benchmarks.graph_pull import E3, PAGE_CAP, SELECT, user
from benchmarks.servers import CLIENT, TENANT, self_signed
from licensewatch.config import SourceSettings
from licensewatch.sources.cucm.clusters import ClusterSpec, combine, pull_clusters
from licensewatch.sources.cucm.live import CucmSource
from licensewatch.sources.graph.live import GraphSource
from licensewatch.sources.interface import PhonesPull

#: Identity and access budget of an app in a tenant over 500 users: resource units per window.
GRAPH_BUDGET, GRAPH_WINDOW_S = 8_000, 10.0
#: ``GET /users`` costs 2 resource units, ``$select`` takes one off.
USERS_COST = 1


@dataclass
class GraphModel:
    """How the Graph stand-in answers on the simulated clock."""

    clock: SimClock
    users: int
    page_s: float
    throttle_every: int = 0
    throttle_retry_after: float = 0.0

    def __post_init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.spent: list[tuple[float, int]] = []
        self.lock = threading.Lock()

    def admit(self) -> float | None:
        """None when a users request may be answered now, else the Retry-After to send."""
        with self.lock:
            self.hits["users"] += 1
            now = self.clock()
            self.spent = [(t, c) for t, c in self.spent if now - t < GRAPH_WINDOW_S]
            if self.throttle_every and self.hits["users"] % self.throttle_every == 0:
                self.hits["users.429"] += 1
                return self.throttle_retry_after
            if sum(c for _, c in self.spent) + USERS_COST > GRAPH_BUDGET:
                self.hits["users.429"] += 1
                return self.spent[0][0] + GRAPH_WINDOW_S - now
            self.spent.append((now, USERS_COST))
            self.clock.now += self.page_s
            return None

    def page(self, base: str, offset: int) -> bytes:
        """The users page at ``offset``, rendered when asked (not held for the whole pull)."""
        end = min(offset + PAGE_CAP, self.users)
        doc: dict[str, Any] = {
            "@odata.context": f"{base}/v1.0/$metadata#users({SELECT})",
            "value": [user(i) for i in range(offset, end)],
        }
        if end < self.users:
            doc["@odata.nextLink"] = (
                f"{base}/v1.0/users?$select={SELECT}&$top={PAGE_CAP}&$skiptoken=RFNw{end}"
            )
        return json.dumps(doc).encode()


def graph_handler(model: GraphModel, base: Callable[[], str]) -> type[BaseHTTPRequestHandler]:
    """Entra ID's token endpoint and Graph's users, SKUs and $count, answering as ``model``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the benchmark prints its own summary."""

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            token = {"token_type": "Bearer", "expires_in": 3599, "access_token": "bench-token"}
            self._send(200, json.dumps(token).encode())

        def do_GET(self) -> None:
            parts, root = urlsplit(self.path), base()
            if parts.path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
                config = {
                    "issuer": f"{root}/{TENANT}/v2.0",
                    "token_endpoint": f"{root}/{TENANT}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{root}/{TENANT}/oauth2/v2.0/authorize",
                }
                return self._send(200, json.dumps(config).encode())
            if parts.path == "/v1.0/subscribedSkus":
                skus = {"value": [{"skuId": E3, "skuPartNumber": "SPE_E3"}]}
                return self._send(200, json.dumps(skus).encode())
            if parts.path == "/v1.0/users/$count":
                return self._send(200, str(model.users).encode(), {"Content-Type": "text/plain"})
            if parts.path != "/v1.0/users":
                return self._send(404, b'{"error":{"code":"Request_ResourceNotFound"}}')
            wait = model.admit()
            if wait is not None:
                body = b'{"error":{"code":"TooManyRequests","message":"Too many requests"}}'
                return self._send(429, body, {"Retry-After": f"{max(wait, 0.0):.3f}"})
            token = parse_qs(parts.query).get("$skiptoken", ["RFNw0"])[0]
            return self._send(200, model.page(root, int(token[4:])))

    return Handler


@dataclass(frozen=True)
class Pulled:
    """One simulated pull: how long it would take, what it sent, and the CPU time it took."""

    simulated_s: float
    requests: int
    throttled: int
    wall_s: float


def graph_pull(users: int, args: argparse.Namespace) -> Pulled:
    """Pull ``users`` accounts from the Graph stand-in on a simulated clock."""
    clock = SimClock()
    model = GraphModel(
        clock, users, args.graph_page_s, args.graph_throttle_every, args.graph_retry_after
    )
    with TemporaryDirectory() as tmp:
        cert, key = self_signed(Path(tmp))
        holder: dict[str, str] = {}
        server = ThreadingHTTPServer(("127.0.0.1", 0), graph_handler(model, lambda: holder["b"]))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        holder["b"] = base = f"https://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        options = {
            "tenant_id": TENANT,
            "client_id": CLIENT,
            "client_secret_env": "LW_BENCH_SECRET",
            "authority": base,
            "graph_url": f"{base}/v1.0",
            "ca_bundle": str(cert),
            "page_size": PAGE_CAP,
            "max_retries": 20,
        }
        source = GraphSource(
            SourceSettings("accounts", "graph", options, Path(tmp)),
            environ={"LW_BENCH_SECRET": "bench"},
            sleep=clock.sleep,
            progress_stream=io.StringIO(),
        )
        started = time.perf_counter()
        try:
            pulled = source.pull()
        finally:
            server.shutdown()
            server.server_close()
    assert len(pulled.accounts) == users, (len(pulled.accounts), users)
    wall = time.perf_counter() - started
    return Pulled(clock.now, pulled.requests, model.hits["users.429"], wall)


def phones_pull(phones: int, clusters: int, args: argparse.Namespace) -> Pulled:
    """Pull ``phones`` phones split over ``clusters`` stand-ins, at once, one clock each."""
    clocks: list[SimClock] = []
    sources: list[CucmSource] = []
    pulls: list[tuple[ClusterSpec, Callable[[], PhonesPull]]] = []
    for n in range(clusters):
        clock = SimClock()
        share = phones // clusters + (1 if n < phones % clusters else 0)
        session = requests.Session()
        session.mount(BASE, FakeCucm(share, clock, server_rate=args.risport_rate))
        options = {
            "axl_url": f"{BASE}/axl/",
            "username": "bench",
            "password_env": ENV,
            "risport_rate_per_minute": args.risport_rate,
        }
        settings = SourceSettings("phones", "cucm", options, Path.cwd())
        source = CucmSource(
            settings,
            session=session,
            clock=clock,
            sleep=clock.sleep,
            environ={ENV: "bench"},
            cluster=f"c{n + 1}",
        )
        clocks.append(clock)
        sources.append(source)
        pulls.append((ClusterSpec(f"c{n + 1}", f"c{n + 1}", settings), source.pull))
    started = time.perf_counter()
    pulled = combine(pull_clusters(pulls))
    wall = time.perf_counter() - started
    assert len(pulled.phones) == phones, (len(pulled.phones), phones)
    faults = sum(s.stats.rate_control_faults for s in sources if s.stats is not None)
    return Pulled(max(c.now for c in clocks), pulled.requests, faults, wall)


def minutes(seconds: float) -> str:
    """Seconds as ``h:mm:ss``."""
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def main() -> None:
    """Run every size on every cluster count and print the table (Markdown)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="60000,1000000", help="accounts = phones, comma-separated"
    )
    parser.add_argument("--clusters", default="1,4", help="cluster counts, comma-separated")
    parser.add_argument("--risport-rate", type=int, default=15, help="RisPort requests a minute")
    parser.add_argument("--graph-page-s", type=float, default=1.0, help="seconds a users page")
    parser.add_argument("--graph-throttle-every", type=int, default=0)
    parser.add_argument("--graph-retry-after", type=float, default=10.0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    counts = [int(c) for c in args.clusters.split(",")]
    print(
        f"RisPort {args.risport_rate}/min per cluster, 1,000 devices a request; Graph "
        f"{args.graph_page_s:g} s a 500-user page, {GRAPH_BUDGET:,} resource units per "
        f"{GRAPH_WINDOW_S:g} s"
        + (
            f", every {args.graph_throttle_every}th users request 429 with Retry-After "
            f"{args.graph_retry_after:g} s"
            if args.graph_throttle_every
            else ""
        )
    )
    print()
    print(
        "| organization | clusters | Graph pull (simulated) | Graph requests / 429s "
        "| phones pull (simulated) | RisPort + AXL requests / rate faults "
        "| both pulls, one after the other | seconds this simulation took |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in sizes:
        graph = graph_pull(size, args)
        for count in counts:
            phones = phones_pull(size, count, args)
            print(
                f"| {size:,} accounts, {size:,} phones | {count} | {minutes(graph.simulated_s)} "
                f"| {graph.requests:,} / {graph.throttled:,} | {minutes(phones.simulated_s)} "
                f"| {phones.requests:,} / {phones.throttled:,} "
                f"| {minutes(graph.simulated_s + phones.simulated_s)} "
                f"| {graph.wall_s + phones.wall_s:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
