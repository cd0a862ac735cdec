"""Benchmark: the live Graph source against a local stand-in for Entra ID and Graph.

Serves, on https://127.0.0.1 only (self-signed certificate made at run time,
passed as ``ca_bundle``), an OpenID configuration and token endpoint that MSAL
accepts, ``subscribedSkus`` and N users in the documented page shape with
``@odata.nextLink`` paging and Graph's 500-users-a-page cap for
``signInActivity``. Prints requests and seconds per 10,000 users.

    python -m benchmarks.graph_pull --users 50000 --repeat 3
"""

from __future__ import annotations

import argparse
import io
import json
import ssl
import statistics
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from benchmarks.servers import CLIENT, TENANT, self_signed
from licensewatch.config import SourceSettings
from licensewatch.sources.graph.live import GraphSource

PAGE_CAP = 500  # Graph's cap with $select=signInActivity, whatever $top asks
E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"
SELECT = (
    "id,userPrincipalName,mail,employeeId,displayName,department,accountEnabled,userType,"
    "createdDateTime,assignedLicenses,signInActivity"
)


def user(i: int) -> dict[str, Any]:
    """The i-th synthetic user, in the shape of the documented users page."""
    day = datetime(2024, 12, 1, tzinfo=UTC) - timedelta(days=i % 400)
    stamp = day.strftime("%Y-%m-%dT08:%M:%SZ")
    doc: dict[str, Any] = {
        "id": f"00000000-0000-4000-8000-{i:012d}",
        "userPrincipalName": f"user{i}@contoso.com",
        "mail": f"user{i}@contoso.com",
        "employeeId": f"E{i}",
        "displayName": f"User {i}",
        "department": f"Department {i % 40}",
        "accountEnabled": i % 50 != 0,
        "userType": "Member",
        "createdDateTime": "2019-03-02T18:05:12Z",
        "assignedLicenses": [{"disabledPlans": [], "skuId": E3}],
    }
    if i % 10:
        doc["signInActivity"] = {
            "lastSignInDateTime": stamp,
            "lastSignInRequestId": "20a94b1b-ade2-4f4e-9c55-609f7cd97600",
            "lastNonInteractiveSignInDateTime": "0001-01-01T00:00:00Z",
            "lastNonInteractiveSignInRequestId": "",
            "lastSuccessfulSignInDateTime": stamp,
            "lastSuccessfulSignInRequestId": "20a94b1b-ade2-4f4e-9c55-609f7cd97600",
        }
    return doc


class StandIn:
    """Pre-rendered answers of the stand-in, and what it was asked."""

    def __init__(self, users: int) -> None:
        self.users = users
        self.base = ""
        self.hits: Counter[str] = Counter()
        self.pages: dict[int, bytes] = {}

    def render(self, base: str) -> None:
        """Render every page once, so the benchmark times the client, not the server."""
        self.base = base
        for offset in range(0, max(self.users, 1), PAGE_CAP):
            end = min(offset + PAGE_CAP, self.users)
            page: dict[str, Any] = {
                "@odata.context": f"{base}/v1.0/$metadata#users({SELECT})",
                "value": [user(i) for i in range(offset, end)],
            }
            if end < self.users:
                page["@odata.nextLink"] = (
                    f"{base}/v1.0/users?$select={SELECT}&$top={PAGE_CAP}&$skiptoken=RFNw{end}"
                )
            self.pages[offset] = json.dumps(page).encode()


def handler_for(stand_in: StandIn) -> type[BaseHTTPRequestHandler]:
    """The request handler serving ``stand_in``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the benchmark prints its own summary."""

        def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            stand_in.hits["token"] += 1
            token = {"token_type": "Bearer", "expires_in": 3599, "access_token": "bench-token"}
            self._send(200, json.dumps(token).encode())

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            base = stand_in.base
            if parts.path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
                stand_in.hits["openid"] += 1
                config = {
                    "issuer": f"{base}/{TENANT}/v2.0",
                    "token_endpoint": f"{base}/{TENANT}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{base}/{TENANT}/oauth2/v2.0/authorize",
                }
                return self._send(200, json.dumps(config).encode())
            if self.headers.get("Authorization") != "Bearer bench-token":
                return self._send(401, b'{"error":{"code":"InvalidAuthenticationToken"}}')
            if parts.path == "/v1.0/subscribedSkus":
                stand_in.hits["subscribedSkus"] += 1
                skus = {"value": [{"skuId": E3, "skuPartNumber": "SPE_E3"}]}
                return self._send(200, json.dumps(skus).encode())
            if parts.path == "/v1.0/users":
                stand_in.hits["users"] += 1
                token = parse_qs(parts.query).get("$skiptoken", ["RFNw0"])[0]
                return self._send(200, stand_in.pages[int(token[4:])])
            if parts.path == "/v1.0/users/$count":
                stand_in.hits["users.count"] += 1
                return self._send(200, str(stand_in.users).encode(), "text/plain")
            return self._send(404, b'{"error":{"code":"Request_ResourceNotFound"}}')

    return Handler


def run(users: int, repeat: int, page_size: int) -> None:
    """Serve ``users`` users and pull them ``repeat`` times; print the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = self_signed(Path(tmp))
        stand_in = StandIn(users)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(stand_in))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        base = f"https://127.0.0.1:{server.server_address[1]}"
        stand_in.render(base)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        settings = SourceSettings(
            feed="accounts",
            kind="graph",
            options={
                "tenant_id": TENANT,
                "client_id": CLIENT,
                "client_secret_env": "LW_BENCH_SECRET",
                "authority": base,
                "graph_url": f"{base}/v1.0",
                "ca_bundle": str(cert),
                "page_size": page_size,
            },
            base_dir=Path(tmp),
        )
        seconds: list[float] = []
        try:
            for _ in range(repeat):
                stand_in.hits.clear()
                source = GraphSource(
                    settings, environ={"LW_BENCH_SECRET": "bench"}, progress_stream=io.StringIO()
                )
                started = time.perf_counter()
                pulled = source.pull()
                seconds.append(time.perf_counter() - started)
                assert len(pulled.accounts) == users, (len(pulled.accounts), users)
        finally:
            server.shutdown()
            server.server_close()
    per = 10_000 / max(users, 1)
    hits = dict(stand_in.hits)
    graph = hits.get("users", 0) + hits.get("subscribedSkus", 0) + hits.get("users.count", 0)
    best, median = min(seconds), statistics.median(seconds)
    print(f"users: {users:,}  $top asked: {page_size}  page cap: {PAGE_CAP}  repeats: {repeat}")
    print(f"requests per pull: {pulled.requests} ({hits})")
    print(f"Graph requests per 10,000 users: {graph * per:.1f}")
    print(f"all requests per 10,000 users (with sign-in): {pulled.requests * per:.1f}")
    print(f"seconds per pull: median {median:.2f}, best {best:.2f}")
    print(f"seconds per 10,000 users: median {median * per:.3f}, best {best * per:.3f}")
    print(f"users per second: {users / median:,.0f}")


def main() -> None:
    """Command line: --users N --repeat R --page-size S."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--page-size", type=int, default=999, help="$top asked (the cap is 500)")
    args = parser.parse_args()
    run(args.users, args.repeat, args.page_size)


if __name__ == "__main__":
    main()
