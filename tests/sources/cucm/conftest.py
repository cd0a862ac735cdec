"""Fakes for the CUCM sources: AXL and RisPort70 answers in the documented wire formats.

``tests/fixtures/cucm/`` holds the shared wire-format samples (listPhone
answer, the two documented AXL faults, RisPort's one-device and nil-CmNodes
answers, the rate-control fault, the request shapes) and an executeSQLQuery
answer in the documented ``return/row`` shape. The builders below produce
bigger answers in exactly those shapes. ``responses`` refuses any request
that was not registered, and :class:`FakeClock` records waits instead of
sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
import pytest
import responses

from licensewatch.config import SourceSettings

# The storage fixtures of tests/store (SQLite and PostgreSQL, a fresh database per
# test), for the registration-history store tests.
from tests.store.conftest import db_url, engine, migrated, pg_server_url, session  # noqa: F401

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cucm"
HOST = "cucm-pub.example.org"
AXL_URL = f"https://{HOST}:8443/axl/"
RIS_URL = f"https://{HOST}:8443/realtimeservice2/services/RISService70"
USER = "lw_axl_reader"
PASSWORD_ENV = "LW_TEST_CUCM_PASSWORD"
PASSWORD = "n0t-a-real-Password"
SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
AXL_NS = "http://www.cisco.com/AXL/API/12.5"


def fixture(name: str) -> bytes:
    """A fixture file's bytes, exactly."""
    return (FIXTURES / name).read_bytes()


def _cell(name: str, value: str | None) -> str:
    return f"<{name}/>" if value is None else f"<{name}>{escape(value)}</{name}>"


def sql_response(rows: Sequence[Mapping[str, str | None]]) -> bytes:
    """An executeSQLQueryResponse with one ``row`` per mapping (column → text)."""
    body = "".join(
        "<row>" + "".join(_cell(k, v) for k, v in row.items()) + "</row>" for row in rows
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAPENV}">'
        f'<soapenv:Body><ns:executeSQLQueryResponse xmlns:ns="{AXL_NS}"><return>{body}</return>'
        "</ns:executeSQLQueryResponse></soapenv:Body></soapenv:Envelope>"
    ).encode()


def list_phone_response(phones: Sequence[Mapping[str, str | None]]) -> bytes:
    """A listPhoneResponse in the shape of the shared sample (uuid attributes included)."""
    items = []
    for i, p in enumerate(phones):
        owner = p.get("ownerUserName")
        items.append(
            f'<phone uuid="{{6B4D9F21-0A3C-4D2E-9B1A-{i:012X}}}">'
            + "".join(_cell(k, p.get(k)) for k in ("name", "description", "product", "model"))
            + f'<devicePoolName uuid="{{1B1B9EB6-7803-11D3-BDF0-00108302EAD1}}">'
            f"{escape(p.get('devicePoolName') or 'Default')}</devicePoolName>"
            + (
                # No owner: no text and no uuid (an empty uuid is not an XUUID, AXLSoap.xsd).
                "<ownerUserName/>"
                if owner is None
                else '<ownerUserName uuid="{A8D94FF0-4627-EECC-0D8D-E2EE69123B32}">'
                f"{escape(owner)}</ownerUserName>"
            )
            + "</phone>"
        )
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAPENV}"><soapenv:Body>'
        f'<ns:listPhoneResponse xmlns:ns="{AXL_NS}"><return>{"".join(items)}</return>'
        "</ns:listPhoneResponse></soapenv:Body></soapenv:Envelope>"
    ).encode()


def axl_fault(message: str, axlcode: str = "-1", request: str = "executeSQLQuery") -> bytes:
    """An AXL fault in the documented shape (faultstring plus axlError detail)."""
    m = escape(message)
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAPENV}"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>soapenv:Server</faultcode><faultstring>{m}</faultstring><detail>"
        f"<axlError><axlcode>{axlcode}</axlcode><axlmessage>{m}</axlmessage>"
        f"<request>{request}</request></axlError></detail></soapenv:Fault></soapenv:Body>"
        "</soapenv:Envelope>"
    ).encode()


def too_large(total: int, below: int) -> bytes:
    """AXL's "Query request too large" fault for ``total`` rows, suggesting under ``below``."""
    return axl_fault(
        f"Query request too large. Total rows matched: {total} rows. "
        f"Suggestive Row Fetch: less than {below} rows"
    )


@dataclass(frozen=True)
class Dev:
    """A device entry under one node."""

    name: str
    status: str = "Registered"
    ts: int = 1704067200


@dataclass(frozen=True)
class Node:
    """One CmNodes item."""

    name: str
    devices: Sequence[Dev] = ()
    code: str = "Ok"
    no_change: bool = False


#: A phone is no H.323 trunk: every field of the (required) H323Trunk is nil, as the WSDL has it.
_NIL_TRUNK = "".join(
    f'<ns1:{name} xsi:nil="true"/>'
    for name in ("ConfigName", "TechPrefix", "Zone", "RemoteCmServer1", "RemoteCmServer2",
                 "RemoteCmServer3", "AltGkList", "ActiveGk", "CallSignalAddr", "RasAddr")
)  # fmt: skip

#: A line has no PartiallyRegistered status (CmSingleLineStatus): the device is, its line is not.
_LINE = {"PartiallyRegistered": "UnRegistered"}


def _device(d: Dev) -> str:
    # Every field of the shared one-device sample, so the parser meets the real clutter
    # (schema-valid against RISService70.wsdl: tests/conformance).
    return (
        f"<ns1:item><ns1:Name>{escape(d.name)}</ns1:Name><ns1:DirNumber>1000-{d.status}"
        "</ns1:DirNumber><ns1:DeviceClass>Phone</ns1:DeviceClass><ns1:Model>36224</ns1:Model>"
        "<ns1:Product>36677</ns1:Product><ns1:BoxProduct>0</ns1:BoxProduct><ns1:Httpd>Yes"
        "</ns1:Httpd><ns1:RegistrationAttempts>0</ns1:RegistrationAttempts>"
        "<ns1:IsCtiControllable>true</ns1:IsCtiControllable><ns1:LoginUserId/>"
        f"<ns1:Status>{d.status}</ns1:Status><ns1:StatusReason>0</ns1:StatusReason>"
        "<ns1:PerfMonObject>2</ns1:PerfMonObject><ns1:DChannel>0</ns1:DChannel>"
        f"<ns1:Description>x</ns1:Description><ns1:H323Trunk>{_NIL_TRUNK}</ns1:H323Trunk>"
        f"<ns1:TimeStamp>{d.ts}</ns1:TimeStamp><ns1:Protocol>SIP</ns1:Protocol>"
        "<ns1:NumOfLines>1</ns1:NumOfLines><ns1:LinesStatus><ns1:item><ns1:DirectoryNumber>1000"
        f"</ns1:DirectoryNumber><ns1:Status>{_LINE.get(d.status, d.status)}</ns1:Status>"
        "</ns1:item></ns1:LinesStatus>"
        "<ns1:ActiveLoadID>sip8845_65.14-2-1-0001-14</ns1:ActiveLoadID><ns1:InactiveLoadID/>"
        "<ns1:DownloadStatus>Successful</ns1:DownloadStatus><ns1:DownloadFailureReason/>"
        "<ns1:DownloadServer/>"
        "<ns1:IPAddress><ns1:item><ns1:IP>10.0.1.100</ns1:IP><ns1:IPAddrType>ipv4"
        "</ns1:IPAddrType><ns1:Attribute>Unknown</ns1:Attribute></ns1:item></ns1:IPAddress>"
        "</ns1:item>"
    )


def ris_response(
    nodes: Sequence[Node] | None, *, state_info: str = "", total: int | None = None
) -> bytes:
    """A selectCmDeviceResponse; ``nodes=None`` gives ``CmNodes xsi:nil="1"``."""
    if nodes is None:
        cm_nodes = (
            '<ns1:CmNodes xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="1" />'
        )
        found = 0
    else:
        items = "".join(
            f"<ns1:item><ns1:ReturnCode>{n.code}</ns1:ReturnCode><ns1:Name>{n.name}</ns1:Name>"
            f"<ns1:NoChange>{'true' if n.no_change else 'false'}</ns1:NoChange>"
            f"<ns1:CmDevices>{''.join(_device(d) for d in n.devices)}</ns1:CmDevices></ns1:item>"
            for n in nodes
        )
        cm_nodes = f"<ns1:CmNodes>{items}</ns1:CmNodes>"
        found = sum(len(n.devices) for n in nodes)
    return (
        "<?xml version='1.0' encoding='utf-8'?>"
        f'<soapenv:Envelope xmlns:soapenv="{SOAPENV}" xmlns:xsi="{XSI}"><soapenv:Body>'
        '<ns1:selectCmDeviceResponse xmlns:ns1="http://schemas.cisco.com/ast/soap">'
        "<ns1:selectCmDeviceReturn><ns1:SelectCmDeviceResult>"
        f"<ns1:TotalDevicesFound>{found if total is None else total}</ns1:TotalDevicesFound>"
        f"{cm_nodes}</ns1:SelectCmDeviceResult><ns1:StateInfo>{escape(state_info)}"
        "</ns1:StateInfo></ns1:selectCmDeviceReturn></ns1:selectCmDeviceResponse>"
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()


def parse_body(body: bytes | str) -> Element:
    """A sent envelope, parsed."""
    root: Element = SafeET.fromstring(body if isinstance(body, bytes) else body.encode())
    return root


def request_xml(call: Any) -> Element:
    """The envelope a recorded ``responses`` call sent."""
    return parse_body(call.request.body)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def body_texts(body: bytes | str, name: str) -> list[str]:
    """Text of every element named ``name`` (any namespace) in a sent envelope."""
    return [e.text or "" for e in parse_body(body).iter() if _local(e.tag) == name]


def texts(call: Any, name: str) -> list[str]:
    """Text of every element named ``name`` (any namespace) in a recorded call's envelope."""
    return body_texts(call.request.body, name)


def selected(call: Any) -> list[str]:
    """The device names a recorded selectCmDeviceExt request asked for."""
    return body_texts(call.request.body, "Item")


def names(n: int, start: int = 0) -> list[str]:
    """``n`` distinct phone names ``SEP00000000000A`` …"""
    return [f"SEP{i:012X}" for i in range(start, start + n)]


@dataclass
class FakeClock:
    """A monotonic clock that only moves when slept on; records every wait."""

    now: float = 1_000.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Advance the clock instead of waiting."""
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def cucm_settings(base: Path, **options: Any) -> SourceSettings:
    """``[sources.phones]`` for kind cucm, with the test credentials and ``options`` on top."""
    merged = {
        "axl_url": AXL_URL,
        "username": USER,
        "password_env": PASSWORD_ENV,
        **options,
    }
    return SourceSettings(feed="phones", kind="cucm", options=merged, base_dir=base)


@pytest.fixture
def http(rsps: responses.RequestsMock) -> responses.RequestsMock:
    """The suite's ``rsps`` (tests/conftest.py) under this directory's name."""
    return rsps


@pytest.fixture
def clock(no_real_sleep: None) -> FakeClock:
    """A fake clock; real sleeping is made to fail the test (``no_real_sleep``)."""
    return FakeClock()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The CUCM password in the environment."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return {PASSWORD_ENV: PASSWORD}


#: How long a read waits for the next request before calling the pull one-by-one.
PATIENCE_S = 10.0


class Served:
    """A ``responses`` callback answering SOAP requests from a list, signalling each arrival.

    With ``overlap`` set (the number, from 0, of the request that answers the
    first page or batch), an answer waits (up to :data:`PATIENCE_S`) until the
    answer before it is being read (``reading``), and notes in ``while_reading``
    whether it was: a pull that asks for the next page before it reads this
    one, but not meanwhile, is told apart.
    """

    def __init__(self, bodies: list[tuple[int, bytes]], overlap: int | None = None) -> None:
        self.bodies = bodies
        self.arrived: list[threading.Event] = [threading.Event() for _ in bodies]
        self.reading: list[threading.Event] = [threading.Event() for _ in bodies]
        self.while_reading: list[bool] = []
        self._overlap = overlap
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        self._count = 0

    def __call__(self, request: Any) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            n = self._count
            self._count += 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            self.arrived[n].set()
            if self._overlap is not None and n > self._overlap:
                self.while_reading.append(self.reading[n - 1].wait(PATIENCE_S))
            status, body = self.bodies[n]
            return status, {"Content-Type": "text/xml; charset=utf-8"}, body
        finally:
            with self._lock:
                self.in_flight -= 1
