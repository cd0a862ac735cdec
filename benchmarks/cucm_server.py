"""A stand-in for Cisco Unified CM's AXL and RisPort70, answering in the documented wire formats.

:class:`CucmResponder` answers ``executeSQLQuery`` (refusing answers over
``sql_row_limit`` rows with AXL's "Query request too large … Suggestive Row
Fetch" fault, so the client pages with SKIP/FIRST), ``listPhone`` and
``selectCmDeviceExt`` (two subscriber nodes; some phones listed under both;
with ``risport_rate`` set, more than that many requests in 60 s get the
``Server.RateControl`` fault, as the real call manager does). It is shared by
the in-process fake of ``benchmarks.cucm_pull`` (simulated clock) and the
HTTPS server of ``benchmarks.servers`` (real clock, real sockets).
"""

from __future__ import annotations

import base64
import csv
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from licensewatch.sources.cucm.soap import parse_xml

SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"
AXL_NS = "http://www.cisco.com/AXL/API/12.5"
RIS_NS = "http://schemas.cisco.com/ast/soap"
PAGING = re.compile(r"select skip (\d+) first (\d+) ")
NODES = ("cucm-sub1", "cucm-sub2")
USERNAME, PASSWORD = "bench", "bench-password"
#: RisPort keeps an unregistered device in its tables for a while, then forgets it.
RIS_MEMORY_S = 30 * 86_400


@dataclass(frozen=True, slots=True)
class ServedPhone:
    """One phone as the call manager knows it (epochs in seconds; None: unknown)."""

    name: str
    description: str
    model: str
    device_pool: str
    owner: str
    directory_number: str
    last_seen: int  # registrationdynamic.lastseen; 0 = never
    status: str | None  # RisPort's spelling, None when no node lists the phone
    stamp: int | None  # RisPort TimeStamp
    node: int  # index into NODES
    also_other_node: bool  # also listed, older and unregistered, under the other node


@dataclass(frozen=True)
class Answer:
    """One SOAP answer: HTTP status, body, operation and how many rows/devices it carried."""

    status: int
    body: bytes
    operation: str
    units: int = 0
    fault: str = ""


def envelope(body: str) -> bytes:
    """A SOAP 1.1 envelope around ``body``."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAPENV}">'
        f"<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    ).encode()


def fault(code: str, message: str) -> bytes:
    """A SOAP fault with AXL's ``axlError`` detail."""
    m = escape(message)
    return envelope(
        f"<soapenv:Fault><faultcode>{code}</faultcode><faultstring>{m}</faultstring>"
        f"<detail><axlError><axlcode>-1</axlcode><axlmessage>{m}</axlmessage></axlError>"
        "</detail></soapenv:Fault>"
    )


def _epoch(text: str) -> int | None:
    return int(datetime.fromisoformat(text).timestamp()) if text else None


def phones_from_csv(path: Path, as_of_epoch: int) -> list[ServedPhone]:
    """The phones of a ``csv`` phone feed, ordered by name as AXL's query orders them."""
    phones: list[ServedPhone] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for i, (name, desc, model, pool, owner, dn, status, changed, seen) in enumerate(reader):
            stamp = _epoch(changed)
            listed: str | None = status
            if status != "Registered" and (stamp is None or stamp < as_of_epoch - RIS_MEMORY_S):
                listed = None
            phones.append(
                ServedPhone(
                    name, desc, model, pool, owner, dn, _epoch(seen) or 0, listed,
                    stamp if listed else None, i % 2, listed is not None and i % 20 == 0,
                )
            )  # fmt: skip
    phones.sort(key=lambda p: p.name)
    return phones


@dataclass
class CucmResponder:
    """AXL and RisPort70 answers for ``phones`` (see the module docstring)."""

    phones: Sequence[ServedPhone]
    clock: Callable[[], float] = time.monotonic
    sql_row_limit: int = 17_000
    risport_rate: int | None = None
    calls: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.index = {p.name: i for i, p in enumerate(self.phones)}
        # Each phone's executeSQLQuery row, written once before the night: a real call manager
        # answers on its own machine, and writing 929,600 rows page by page took 4 of the
        # stand-in's CPU seconds on the two cores the 1M night is measured on (issue 18, tenth
        # session). The answers are the same bytes.
        self._rows = [self._sql_row(p) for p in self.phones]
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()

    def answer(self, operation: str, body: bytes) -> Answer:
        """Answer one request whose SOAPAction names ``operation``."""
        # The client's own parser (libxml2 with defusedxml's protections). defusedxml's
        # ElementTree calls Python for every element: 5 s of the 1M night's 930 requests of
        # 1,000 names, on the two cores the night is measured on (issue 18, ninth session).
        root = parse_xml(body, what=f"{operation} request")
        with self._lock:
            self.calls[operation] += 1
        if operation == "executeSQLQuery":
            return self._sql(root)
        if operation == "listPhone":
            return self._list_phone(root)
        if operation in ("selectCmDeviceExt", "selectCmDevice"):
            return self._risport(root)
        return Answer(500, fault("soapenv:Client", f"unknown operation {operation}"), operation)

    @staticmethod
    def _text(root: Any, name: str) -> list[str]:
        return [e.text or "" for e in root.iter(f"{{*}}{name}")]

    def _sql_row(self, p: ServedPhone) -> str:
        owner = f"<owner>{escape(p.owner)}</owner>" if p.owner else "<owner/>"
        return (
            f"<row><name>{p.name}</name><description>{escape(p.description)}</description>"
            f"<model>{p.model}</model><devicepool>{p.device_pool}</devicepool>{owner}"
            f"<dnorpattern>{p.directory_number}</dnorpattern><lastseen>{p.last_seen}</lastseen>"
            "</row>"
        )

    def _sql(self, root: Any) -> Answer:
        paging = PAGING.match(self._text(root, "sql")[0])
        skip, first = (int(paging[1]), int(paging[2])) if paging else (0, len(self.phones))
        rows = self.phones[skip : skip + first]
        if len(rows) >= self.sql_row_limit:
            with self._lock:
                self.calls["executeSQLQuery.too_large"] += 1
            message = (
                f"Query request too large. Total rows matched: {len(rows)} rows. "
                f"Suggestive Row Fetch: less than {self.sql_row_limit} rows"
            )
            return Answer(500, fault("soapenv:Server", message), "executeSQLQuery", 0, "too_large")
        body = "".join(self._rows[skip : skip + len(rows)])
        return Answer(
            200,
            envelope(
                f'<ns:executeSQLQueryResponse xmlns:ns="{AXL_NS}"><return>{body}</return>'
                "</ns:executeSQLQueryResponse>"
            ),
            "executeSQLQuery",
            len(rows),
        )

    def _list_phone(self, root: Any) -> Answer:
        skip, first = int(self._text(root, "skip")[0]), int(self._text(root, "first")[0])
        rows = self.phones[skip : skip + first]
        body = "".join(
            f'<phone uuid="{{{skip + n:08X}}}"><name>{p.name}</name><description>'
            f"{escape(p.description)}</description><product>{p.model}</product>"
            f"<model>{p.model}</model><devicePoolName>{p.device_pool}</devicePoolName>"
            f"<ownerUserName>{escape(p.owner)}</ownerUserName></phone>"
            for n, p in enumerate(rows)
        )
        return Answer(
            200,
            envelope(
                f'<ns:listPhoneResponse xmlns:ns="{AXL_NS}"><return>{body}</return>'
                "</ns:listPhoneResponse>"
            ),
            "listPhone",
            len(rows),
        )

    def _rate_controlled(self) -> bool:
        if self.risport_rate is None:
            return False
        with self._lock:
            now = self.clock()
            while self._recent and now - self._recent[0] >= 60.0:
                self._recent.popleft()
            if len(self._recent) >= self.risport_rate:
                self.calls["selectCmDeviceExt.rate_control"] += 1
                return True
            self._recent.append(now)
            return False

    def _risport(self, root: Any) -> Answer:
        if self._rate_controlled():
            message = (
                "AxisFault: Exceeded allowed rate for Reatime information. Current allowed "
                f"rate for realtime information is {self.risport_rate} requests per minute."
            )
            return Answer(
                500, fault("ns1:Server.RateControl", message), "selectCmDeviceExt", 0, "rate"
            )
        asked = self._text(root, "Item")
        nodes: list[list[str]] = [[], []]
        for name in asked:
            i = self.index.get(name)
            p = self.phones[i] if i is not None else None
            if p is None or p.status is None or p.stamp is None:
                continue
            nodes[p.node].append(self._device(p.name, p.status, p.stamp))
            if p.also_other_node:
                nodes[1 - p.node].append(self._device(p.name, "UnRegistered", p.stamp - 3_600))
        items = "".join(
            f"<ns1:item><ns1:ReturnCode>Ok</ns1:ReturnCode><ns1:Name>{node}</ns1:Name>"
            f"<ns1:NoChange>false</ns1:NoChange><ns1:CmDevices>{''.join(devs)}</ns1:CmDevices>"
            "</ns1:item>"
            for node, devs in zip(NODES, nodes, strict=True)
        )
        found = sum(len(d) for d in nodes)
        return Answer(
            200,
            envelope(
                f'<ns1:selectCmDeviceResponse xmlns:ns1="{RIS_NS}">'
                "<ns1:selectCmDeviceReturn><ns1:SelectCmDeviceResult>"
                f"<ns1:TotalDevicesFound>{found}</ns1:TotalDevicesFound><ns1:CmNodes>{items}"
                "</ns1:CmNodes></ns1:SelectCmDeviceResult>"
                f"<ns1:StateInfo>s{self.calls['selectCmDeviceExt']}</ns1:StateInfo>"
                "</ns1:selectCmDeviceReturn></ns1:selectCmDeviceResponse>"
            ),
            "selectCmDeviceExt",
            len(asked),
        )

    @staticmethod
    def _device(name: str, status: str, stamp: int) -> str:
        return (
            f"<ns1:item><ns1:Name>{name}</ns1:Name><ns1:DeviceClass>Phone</ns1:DeviceClass>"
            f"<ns1:Status>{status}</ns1:Status><ns1:StatusReason>0</ns1:StatusReason>"
            f"<ns1:TimeStamp>{stamp}</ns1:TimeStamp><ns1:Protocol>SIP</ns1:Protocol></ns1:item>"
        )


def cucm_handler(responder: CucmResponder) -> type[BaseHTTPRequestHandler]:
    """An HTTP handler serving ``responder`` at ``/axl/`` and RisPort's path (Basic auth)."""
    expected = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        #: TCP_NODELAY, as a real front end sends: with Nagle's algorithm the body written
        #: after the headers waits for the client's delayed ACK (up to 40 ms a response).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the benchmark prints its own summary."""

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Authorization") != expected:
                status, data = 401, b"Unauthorized"
            else:
                action = str(self.headers.get("SOAPAction", "")).strip('"')
                result = responder.answer(action.rsplit(" ", 1)[-1], body)
                status, data = result.status, result.body
            self.send_response(status)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
