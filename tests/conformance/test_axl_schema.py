"""Every AXL request the CUCM client sends, and every AXL answer the tests use, against the XSD.

Requests are captured as the real client sends them (``AxlInventory`` over
``SoapClient`` through ``responses``), for each AXL version whose schema is kept
(the client puts the configured version in the namespace and ``SOAPAction``):
the whole ``executeSQLQuery``, its ``SKIP``/``FIRST`` pages after "Query request
too large", and ``listPhone`` pages (first, following, shrunk after a fault,
and as the fallback when SQL is refused). Only the top element of an AXL body
is namespaced; ``AXLSoap.xsd`` says so (``elementFormDefault="unqualified"``).

The answers are the shared fixtures and the conftest builders. AXL faults are
not checked: CUCM sends ``axlError`` unqualified in the fault detail, while the
XSD declares it in the AXL namespace.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import responses

from licensewatch.sources.cucm.axl import AXL_NS, AxlInventory, parse_list_phone
from licensewatch.sources.cucm.soap import SoapClient, parse_xml
from tests.conformance.schemas import AXL_VERSIONS, axl_schema, body_element, schema_errors
from tests.sources.cucm.conftest import (
    AXL_URL,
    PASSWORD,
    USER,
    FakeClock,
    axl_fault,
    fixture,
    list_phone_response,
    names,
    sql_response,
    too_large,
)

DENIED = "User not authorized for this request: executeSQLQuery"


def _valid(version: str, schemas: Path, envelope: bytes) -> list[str]:
    start = time.perf_counter()
    schema = axl_schema(schemas, version)
    loaded = time.perf_counter() - start
    # lxml loads the 3.7 MB AXLSoap.xsd in about half a second; it is loaded once per session.
    assert loaded < 30, f"loading AXL {version} took {loaded:.1f} s"
    return schema_errors(schema, body_element(envelope))


def _retagged(envelope: bytes, version: str) -> bytes:
    """An answer fixture (written for 12.5) in the namespace of ``version``."""
    return envelope.replace(
        AXL_NS.format(version="12.5").encode(), AXL_NS.format(version=version).encode()
    )


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    """``responses`` refusing anything unregistered."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def _inventory(version: str, page_size: int) -> AxlInventory:
    clock = FakeClock()
    client = SoapClient(
        "AXL", AXL_URL, auth=(USER, PASSWORD), sleep=clock.sleep, session=requests.Session()
    )
    return AxlInventory(client, version, page_size=page_size)


def _sent(http: responses.RequestsMock) -> list[tuple[str, bytes]]:
    """(SOAPAction, body) of every request sent."""
    out = []
    for call in http.calls:
        body = call.request.body
        assert isinstance(body, bytes)
        out.append((str(call.request.headers["SOAPAction"]), body))
    return out


def _rows(phone_names: list[str]) -> list[dict[str, str | None]]:
    return [{"name": n, "description": "a & <b>", "lastseen": "0"} for n in phone_names]


def _phones(phone_names: list[str]) -> list[dict[str, str | None]]:
    return [{"name": n, "ownerUserName": "jdoe" if i % 2 else None} for i, n in
            enumerate(phone_names)]  # fmt: skip


def _check(
    version: str, schemas: Path, sent: list[tuple[str, bytes]], operations: list[str]
) -> None:
    assert [action for action, _ in sent] == [f'"CUCM:DB ver={version} {op}"' for op in operations]
    for n, (_, body) in enumerate(sent):
        element = body_element(body)
        assert element.tag == f"{{{AXL_NS.format(version=version)}}}{operations[n]}"
        assert _valid(version, schemas, body) == [], f"request {n + 1} ({operations[n]})"


@pytest.mark.parametrize("version", AXL_VERSIONS)
def test_execute_sql_query_whole_and_paged_requests_are_schema_valid(
    version: str, schemas: Path, http: responses.RequestsMock
) -> None:
    ns = AXL_NS.format(version=version)
    http.post(AXL_URL, body=too_large(5, 3), status=500)
    http.post(AXL_URL, body=sql_response(_rows(names(2))).replace(b"12.5", version.encode()))
    http.post(AXL_URL, body=too_large(3, 2), status=500)
    http.post(AXL_URL, body=sql_response(_rows(names(1, 2))).replace(b"12.5", version.encode()))
    http.post(AXL_URL, body=sql_response(_rows(names(1, 3))).replace(b"12.5", version.encode()))
    http.post(AXL_URL, body=sql_response([]).replace(b"12.5", version.encode()))
    phones = _inventory(version, 1000).read("sql").phones
    assert len(phones) == 4
    sent = _sent(http)
    _check(version, schemas, sent, ["executeSQLQuery"] * 6)
    sql = [body_element(b).findtext("sql") for _, b in sent]
    assert "skip" not in (sql[0] or "") and "skip 2 first 2" in (sql[2] or "")
    assert all(body_element(b).tag == f"{{{ns}}}executeSQLQuery" for _, b in sent)


@pytest.mark.parametrize("version", AXL_VERSIONS)
def test_list_phone_pages_and_the_sql_fallback_are_schema_valid(
    version: str, schemas: Path, http: responses.RequestsMock
) -> None:
    http.post(AXL_URL, body=axl_fault(DENIED), status=500)
    http.post(AXL_URL, body=_retagged(list_phone_response(_phones(names(3))), version))
    smaller = (
        "Query request too large. Total rows matched: 9 rows. "
        "Suggestive Row Fetch: less than 2 rows"
    )
    http.post(AXL_URL, body=axl_fault(smaller, request="listPhone"), status=500)
    http.post(AXL_URL, body=_retagged(list_phone_response(_phones(names(1, 3))), version))
    http.post(AXL_URL, body=_retagged(list_phone_response([]), version))
    inventory = _inventory(version, 3).read("sql")
    assert inventory.method == "listphone" and len(inventory.phones) == 4
    sent = _sent(http)
    _check(version, schemas, sent, ["executeSQLQuery", *["listPhone"] * 4])
    pages = [(body_element(b).findtext("skip"), body_element(b).findtext("first"))
             for _, b in sent[1:]]  # fmt: skip
    assert pages == [("0", "3"), ("3", "3"), ("3", "1"), ("4", "1")]


@pytest.mark.parametrize("version", AXL_VERSIONS)
@pytest.mark.parametrize(
    "name", ["axl_listPhone_request.xml", "axl_listPhone_response.xml",
             "axl_executeSQLQuery_response.xml"],
)  # fmt: skip
def test_the_shared_axl_fixtures_are_schema_valid(version: str, name: str, schemas: Path) -> None:
    text = fixture(name)
    # The request sample starts with a comment naming the HTTP request line.
    envelope = text[text.index(b"<soapenv:Envelope") :]
    assert _valid(version, schemas, _retagged(envelope, version)) == []


@pytest.mark.parametrize("version", AXL_VERSIONS)
def test_the_conftest_answer_builders_are_schema_valid(version: str, schemas: Path) -> None:
    phones: list[dict[str, str | None]] = [
        {"name": "SEP001122334455", "description": "Lobby & lab", "product": "Cisco 8845",
         "model": "Cisco 8845", "devicePoolName": "DP_GENEVA", "ownerUserName": "jdoe"},
        {"name": "SEPAABBCCDDEEFF", "description": None, "ownerUserName": None},
    ]  # fmt: skip
    answers = {
        "listPhone": list_phone_response(phones),
        "listPhone (none)": list_phone_response([]),
        "executeSQLQuery": sql_response([*_rows(names(3)), {"name": "x", "owner": None}]),
        "executeSQLQuery (none)": sql_response([]),
    }
    for what, answer in answers.items():
        assert _valid(version, schemas, _retagged(answer, version)) == [], what


def test_a_phone_without_owner_is_read_as_ownerless_in_both_forms() -> None:
    # Schema-valid: ownerUserName without text and without uuid (what the builders now send).
    valid = parse_list_phone(parse_xml(fixture("axl_listPhone_response.xml"), what="t"))
    # Seen in the composite sample the fixture came from: uuid="" (not an XUUID). Still read.
    quirk = fixture("axl_listPhone_response.xml").replace(
        b"<ownerUserName/>", b'<ownerUserName uuid=""/>'
    )
    assert quirk != fixture("axl_listPhone_response.xml")
    tolerated = parse_list_phone(parse_xml(quirk, what="t"))
    assert [p.owner for p in valid] == [p.owner for p in tolerated] == ["jdoe", None]


@pytest.mark.parametrize("version", AXL_VERSIONS)
def test_the_validator_does_refuse_what_the_xsd_forbids(version: str, schemas: Path) -> None:
    good = _retagged(fixture("axl_listPhone_response.xml"), version)
    assert _valid(version, schemas, good) == []
    for wrong in (
        good.replace(b"<ownerUserName/>", b'<ownerUserName uuid=""/>'),  # not an XUUID
        good.replace(b"<name>SEP001122334455</name>", b"<nam>SEP001122334455</nam>"),
    ):
        assert _valid(version, schemas, wrong) != []
    request = _retagged(fixture("axl_listPhone_request.xml"), version)
    request = request[request.index(b"<soapenv:Envelope") :]
    assert _valid(version, schemas, request) == []
    # Children of the top element are unqualified: a namespaced one is refused.
    qualified = request.replace(b"<skip>0</skip>", b"<ns:skip>0</ns:skip>")
    assert _valid(version, schemas, qualified) != []
    assert _valid(version, schemas, request.replace(b"<first>1000", b"<first>-1")) != []
