"""Local servers for the benchmarks: Microsoft Graph, Cisco AXL/RisPort and an SMTP sink.

Everything listens on 127.0.0.1 only, over HTTPS with a self-signed
certificate made at run time (:func:`self_signed`; clients get it as their CA
bundle), and stops by itself after ``max_seconds``.

- Graph (:class:`GraphPages`, :func:`graph_handler`): an OpenID configuration
  and token endpoint that MSAL accepts, ``subscribedSkus``, and the users pages
  of a :mod:`benchmarks.org` folder with ``@odata.nextLink`` paging and Graph's
  500-a-page cap for ``signInActivity`` (a smaller ``$top`` is honoured).
  ``throttle_every=N`` answers every N-th users request 429 with Retry-After.
- AXL/RisPort: :mod:`benchmarks.cucm_server`, answering from the org's phones.
- SMTP: an aiosmtpd sink that counts messages and bytes.

``python -m benchmarks.servers --org DIR --info FILE`` runs all three in their
own process (so that the job's time and memory are the job's), writes where
they listen to FILE, and answers ``stats`` / ``quit`` lines on stdin.
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from benchmarks import org as orgs
from benchmarks.cucm_server import CucmResponder, cucm_handler, phones_from_csv

TENANT = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
CLIENT = "11112222-bbbb-3333-cccc-4444dddd5555"
TOKEN = "bench-token"
HOST = "127.0.0.1"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, written as PEM files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address(HOST))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class TlsServer:
    """A threading HTTPS server on 127.0.0.1 (random port) that stops after ``max_seconds``."""

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], cert: Path, key: Path, max_seconds: float
    ) -> None:
        self.server = ThreadingHTTPServer((HOST, 0), handler)
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.base = f"https://{HOST}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._timer = threading.Timer(max_seconds, self.stop)
        self._timer.daemon = True

    def start(self) -> TlsServer:
        """Serve in a background thread."""
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        self._timer.cancel()
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()


class GraphPages:
    """The users pages of an organization folder, and what the Graph stand-in was asked."""

    def __init__(self, folder: Path, users: int, *, throttle_every: int = 0) -> None:
        self.folder = folder
        self.users = users
        self.throttle_every = throttle_every
        self.base = ""
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, what: str) -> int:
        """Count one request of kind ``what``; returns how many there were of it."""
        with self._lock:
            self.hits[what] += 1
            return self.hits[what]

    def _file(self, n: int) -> bytes:
        data = (self.folder / f"users_{n:04d}.json").read_bytes()
        return data.replace(orgs.GRAPH.encode(), f"{self.base}/v1.0".encode())

    def page(self, offset: int, top: int) -> bytes:
        """The page of at most ``top`` (≤ 500) users from ``offset``, links to this server."""
        size = orgs.PAGE_SIZE
        if top == size and offset % size == 0:
            return self._file(offset // size + 1)
        users: list[Any] = []
        n = offset // size
        while len(users) < top and n * size < self.users:
            value = json.loads(self._file(n + 1))["value"]
            users.extend(value[max(0, offset - n * size) :])
            n += 1
        doc = orgs.page_doc(users[:top], offset, self.users, f"{self.base}/v1.0", top)
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def graph_handler(pages: GraphPages) -> type[BaseHTTPRequestHandler]:
    """The request handler of the Graph and Entra ID stand-in serving ``pages``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        #: TCP_NODELAY, as a real front end sends: with Nagle's algorithm the body written
        #: after the headers waits for the client's delayed ACK (up to 40 ms a response).
        disable_nagle_algorithm = True

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
            pages.count("token")
            token = {"token_type": "Bearer", "expires_in": 3599, "access_token": TOKEN}
            self._send(200, json.dumps(token).encode())

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            base = pages.base
            if parts.path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
                pages.count("openid")
                config = {
                    "issuer": f"{base}/{TENANT}/v2.0",
                    "token_endpoint": f"{base}/{TENANT}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{base}/{TENANT}/oauth2/v2.0/authorize",
                }
                return self._send(200, json.dumps(config).encode())
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._send(401, b'{"error":{"code":"InvalidAuthenticationToken"}}')
            if parts.path == "/v1.0/subscribedSkus":
                pages.count("subscribedSkus")
                return self._send(200, (pages.folder / "subscribedSkus.json").read_bytes())
            if parts.path == "/v1.0/users":
                return self._users(parse_qs(parts.query))
            if parts.path == "/v1.0/users/$count":
                # Graph answers $count as text/plain (ConsistencyLevel: eventual is required).
                if self.headers.get("ConsistencyLevel") != "eventual":
                    return self._send(400, b'{"error":{"code":"Request_BadRequest"}}')
                pages.count("users.count")
                return self._send(200, str(pages.users).encode(), {"Content-Type": "text/plain"})
            return self._send(404, b'{"error":{"code":"Request_ResourceNotFound"}}')

        def _users(self, query: dict[str, list[str]]) -> None:
            n = pages.count("users")
            if pages.throttle_every and n % pages.throttle_every == 0:
                pages.count("users.429")
                error = b'{"error":{"code":"TooManyRequests","message":"Too many requests"}}'
                return self._send(429, error, {"Retry-After": "1"})
            try:
                token = query.get("$skiptoken", [""])[0]
                offset = orgs.offset_of(token) if token else 0
                top = min(orgs.PAGE_SIZE, int(query.get("$top", ["100"])[0]))
            except ValueError:
                return self._send(400, b'{"error":{"code":"BadRequest"}}')
            pages.count("users.pages")
            return self._send(200, pages.page(offset, top))

    return Handler


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class SmtpSink:
    """aiosmtpd handler that accepts every message and counts them."""

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Accept the message; keep only its size."""
        self.messages += 1
        self.bytes += len(envelope.original_content or b"")
        return "250 OK"


@contextmanager
def smtp_sink(max_bytes: int = 1 << 28) -> Iterator[tuple[SmtpSink, int]]:
    """An SMTP server on 127.0.0.1 (messages up to ``max_bytes``); yields it and its port."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname=HOST, port=port, data_size_limit=max_bytes)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def serve(args: argparse.Namespace) -> None:
    """Run Graph, CUCM and SMTP for ``args.org`` until ``quit``, EOF or ``max_seconds``."""
    org = orgs.load(Path(args.org))
    as_of = int(datetime(org.as_of.year, org.as_of.month, org.as_of.day, tzinfo=UTC).timestamp())
    pages = GraphPages(org.graph_dir, org.users, throttle_every=10 if args.throttle else 0)
    responder = CucmResponder(
        phones_from_csv(org.phones_csv, as_of), risport_rate=15 if args.throttle else None
    )
    with tempfile.TemporaryDirectory(prefix="lw-bench-tls-") as tmp, smtp_sink() as (sink, port):
        cert, key = self_signed(Path(tmp))
        graph = TlsServer(graph_handler(pages), cert, key, args.max_seconds).start()
        pages.base = graph.base
        cucm = TlsServer(cucm_handler(responder), cert, key, args.max_seconds).start()
        info = {"graph": graph.base, "cucm": cucm.base, "smtp_port": port, "ca_bundle": str(cert)}
        # Written whole and renamed into place: the orchestrator polls for this file.
        partial = Path(f"{args.info}.partial")
        partial.write_text(json.dumps(info), encoding="utf-8")
        partial.replace(args.info)
        stop = threading.Event()

        def commands() -> None:
            for line in sys.stdin:
                if line.strip() == "stats":
                    stats = {
                        "graph": dict(pages.hits),
                        "cucm": dict(responder.calls),
                        "smtp": {"messages": sink.messages, "bytes": sink.bytes},
                    }
                    print(json.dumps(stats), flush=True)
                elif line.strip() == "quit":
                    break
            stop.set()

        threading.Thread(target=commands, daemon=True).start()
        try:
            stop.wait(args.max_seconds)
        finally:
            graph.stop()
            cucm.stop()


def main() -> None:
    """Command line: --org DIR --info FILE [--throttle] [--max-seconds S]."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--org", required=True, help="folder written by benchmarks.org.build")
    parser.add_argument("--info", required=True, help="where to write the servers' addresses")
    parser.add_argument("--throttle", action="store_true", help="Graph 429s, RisPort 15/min")
    parser.add_argument("--max-seconds", type=float, default=7200.0)
    serve(parser.parse_args())


if __name__ == "__main__":
    main()
