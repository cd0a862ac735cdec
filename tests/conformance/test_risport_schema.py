"""Every RisPort70 request the CUCM client sends, and the answers the tests use, against the WSDL.

The schema is the one embedded in ``RISService70.wsdl`` (``elementFormDefault=
"qualified"``: every element of the body is in the RisPort namespace).
Requests are captured as ``RisPortReader`` sends them through ``SoapClient``
and ``responses``: a first batch (empty ``StateInfo``), the next one carrying
the previous answer's ``StateInfo``, the fresh ask after ``NoChange``, the
halves after an answer cut short, a full batch of 1,000 names, and names with
characters XML must escape.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import responses

from licensewatch.sources.cucm.risport import MAX_BATCH, RIS_NS, RisPortReader
from licensewatch.sources.cucm.risport_answer import parse_select
from licensewatch.sources.cucm.soap import SoapClient, parse_xml
from tests.conformance.schemas import body_element, risport_schema, schema_errors
from tests.sources.cucm.conftest import (
    PASSWORD,
    RIS_URL,
    USER,
    Dev,
    FakeClock,
    Node,
    fixture,
    names,
    ris_response,
)


def _errors(schemas: Path, envelope: bytes) -> list[str]:
    return schema_errors(risport_schema(schemas), body_element(envelope))


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    """``responses`` refusing anything unregistered."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def _reader(batch: int) -> RisPortReader:
    clock = FakeClock()
    client = SoapClient(
        "RisPort", RIS_URL, auth=(USER, PASSWORD), sleep=clock.sleep, session=requests.Session()
    )
    return RisPortReader(client, batch_size=batch, max_retries=1, sleep=clock.sleep)


def _bodies(http: responses.RequestsMock) -> list[bytes]:
    bodies = []
    for call in http.calls:
        assert call.request.headers["SOAPAction"] == '"selectCmDeviceExt"'
        assert isinstance(call.request.body, bytes)
        bodies.append(call.request.body)
    return bodies


def test_every_select_cm_device_ext_request_is_schema_valid(
    schemas: Path, http: responses.RequestsMock
) -> None:
    odd = ["SEP<&>'\"", "SEPÄ 研究"]
    http.post(RIS_URL, body=ris_response([Node("sub1", [Dev("SEPA")])], state_info="s&1<"))
    http.post(RIS_URL, body=ris_response([Node("sub1", no_change=True)], state_info="s2"))
    http.post(RIS_URL, body=ris_response([Node("sub1", [Dev("SEPB")])], total=2))
    http.post(RIS_URL, body=ris_response([Node("sub1", [Dev(odd[0])])]))
    http.post(RIS_URL, body=ris_response([Node("sub1", code="NotFound")]))
    _reader(2).read(["SEPA", "SEPB", *odd])
    bodies = _bodies(http)
    assert len(bodies) == 5
    for n, body in enumerate(bodies, 1):
        element = body_element(body)
        assert element.tag == f"{{{RIS_NS}}}selectCmDeviceExt"
        assert _errors(schemas, body) == [], f"request {n}"
    states = [body_element(b).findtext(f"{{{RIS_NS}}}StateInfo") for b in bodies]
    assert states == ["", "s&1<", "", "", ""]
    items = [[i.text for i in body_element(b).iter(f"{{{RIS_NS}}}Item")] for b in bodies]
    assert items == [["SEPA", "SEPB"], odd, odd, [odd[0]], [odd[1]]]


def test_a_full_batch_is_schema_valid(schemas: Path, http: responses.RequestsMock) -> None:
    http.post(RIS_URL, body=ris_response(None))
    _reader(MAX_BATCH).read(names(MAX_BATCH))
    (body,) = _bodies(http)
    assert len(list(body_element(body).iter(f"{{{RIS_NS}}}Item"))) == MAX_BATCH
    assert _errors(schemas, body) == []


@pytest.mark.parametrize(
    "name",
    ["risport_selectCmDeviceExt_request.xml", "risport_one_device.xml",
     "risport_zero_devices_nil_cmnodes.xml"],
)  # fmt: skip
def test_the_shared_risport_fixtures_are_schema_valid(name: str, schemas: Path) -> None:
    assert _errors(schemas, fixture(name)) == []


def test_the_conftest_answer_builder_is_schema_valid(schemas: Path) -> None:
    nodes = [
        Node("cucm-sub1", [Dev("SEPA"), Dev("SEPB", "UnRegistered", 0)], no_change=True),
        Node("cucm-sub2", [Dev("SEPA", "PartiallyRegistered"), Dev("SEP&", "Rejected")]),
        Node("cucm-sub3", code="NodeNotResponding"),
    ]
    for answer in (ris_response(nodes, state_info="<s>"), ris_response(None), ris_response([])):
        assert _errors(schemas, answer) == []


def test_the_parser_reads_the_schema_valid_and_the_bare_h323_trunk_alike() -> None:
    sample = fixture("risport_one_device.xml")
    start, end = sample.index(b"<ns1:H323Trunk>"), sample.index(b"</ns1:H323Trunk>")
    # The form of the composite sample the fixture came from (not schema-valid): still read.
    bare = sample[:start] + b"<ns1:H323Trunk/>" + sample[end + len(b"</ns1:H323Trunk>") :]
    assert parse_select(parse_xml(sample, what="t")) == parse_select(parse_xml(bare, what="t"))


def test_the_validator_does_refuse_what_the_wsdl_forbids(schemas: Path) -> None:
    sample = fixture("risport_one_device.xml")
    assert _errors(schemas, sample) == []
    start, end = sample.index(b"<ns1:H323Trunk>"), sample.index(b"</ns1:H323Trunk>")
    bare = sample[:start] + b"<ns1:H323Trunk/>" + sample[end + len(b"</ns1:H323Trunk>") :]
    assert _errors(schemas, bare) != []
    request = fixture("risport_selectCmDeviceExt_request.xml")
    assert _errors(schemas, request) == []
    for wrong in (
        request.replace(b"<soap:Protocol>Any", b"<soap:Protocol>HTTP"),
        request.replace(b"<soap:SelectBy>Name", b"<soap:SelectBy>name"),
        request.replace(b"<soap:Model>255", b"<soap:Model>-1"),
        # Children are qualified: an unqualified one is refused.
        request.replace(b"<soap:StateInfo></soap:StateInfo>", b"<StateInfo></StateInfo>"),
    ):
        assert wrong != request and _errors(schemas, wrong) != []
