"""SOAP plumbing: safe parsing, escaping, faults, and the HTTP helper's retries and errors."""

from __future__ import annotations

import base64

import pytest
import requests
import responses

from licensewatch.errors import SourceAuthError, SourceError, SourceUnavailable
from licensewatch.retry import RetryPolicy
from licensewatch.sources.cucm.soap import (
    Exchange,
    SoapClient,
    SoapFaultError,
    UnsafeXmlError,
    envelope,
    fault_of,
    parse_xml,
    tag,
)
from tests.sources.cucm.conftest import (
    AXL_URL,
    PASSWORD,
    USER,
    FakeClock,
    axl_fault,
    fixture,
    sql_response,
)


def client(clock: FakeClock, **kw: object) -> SoapClient:
    return SoapClient(
        "AXL",
        AXL_URL,
        auth=(USER, PASSWORD),
        verify="/etc/ssl/cucm-ca.pem",
        timeout_s=42.0,
        sleep=clock.sleep,
        random=lambda: 0.5,
        **kw,  # type: ignore[arg-type]
    )


def call(c: SoapClient) -> None:
    c.call("executeSQLQuery", b"<x/>", soap_action="CUCM:DB ver=12.5 executeSQLQuery")


@pytest.mark.parametrize("name", ["xxe_external_entity.xml", "billion_laughs.xml"])
def test_dtds_and_entities_are_refused(name: str) -> None:
    with pytest.raises(UnsafeXmlError, match="declares a DTD or entities"):
        parse_xml(fixture(name), what="AXL answer")


def test_malformed_xml_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="not well-formed"):
        parse_xml(b"<soapenv:Envelope><unclosed>", what="AXL answer")


def test_envelope_escapes_text() -> None:
    sql = "select name from device where description like '%<&>%'"
    root = parse_xml(envelope(f"<ns:q>{tag('sql', sql)}</ns:q>", {"ns": "urn:x"}), what="t")
    assert [e.text for e in root.iter() if e.tag == "sql"] == [sql]


def test_axl_fault_detail_is_read() -> None:
    fault = fault_of(parse_xml(fixture("axl_fault_query_too_large.xml"), what="t"))
    assert fault is not None
    assert fault.code == "soapenv:Server"
    assert fault.axl_code == "-1"
    assert fault.text.startswith("Query request too large. Total rows matched: 2816 rows.")


def test_risport_rate_control_fault_is_read() -> None:
    fault = fault_of(parse_xml(fixture("risport_ratelimit_fault.xml"), what="t"))
    assert fault is not None
    assert fault.code == "ns1:Server.RateControl"
    assert "Exceeded allowed rate for Reatime information" in fault.text
    assert fault.axl_code is None


def test_request_has_timeout_basic_auth_verify_and_quoted_soapaction(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    http.post(AXL_URL, body=sql_response([]))
    c = client(clock)
    call(c)
    sent = http.calls[0].request
    kwargs = sent.req_kwargs  # type: ignore[attr-defined]  # added by responses
    assert kwargs["timeout"] == 42.0
    assert kwargs["verify"] == "/etc/ssl/cucm-ca.pem"
    assert sent.headers["SOAPAction"] == '"CUCM:DB ver=12.5 executeSQLQuery"'
    assert sent.headers["Content-Type"].startswith("text/xml")
    expected = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert sent.headers["Authorization"] == f"Basic {expected}"
    assert c.requests == 1


def test_5xx_and_connection_errors_are_retried_with_backoff(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    http.post(AXL_URL, status=503, body=b"<html>busy</html>")
    http.post(AXL_URL, body=requests.ConnectionError("reset by peer"))
    http.post(AXL_URL, status=502, body=b"", headers={"Retry-After": "7.5"})
    http.post(AXL_URL, body=sql_response([{"name": "SEP1"}]))
    c = client(clock)
    call(c)
    assert c.requests == 4
    # Graph's policy: base 1 s doubling, jitter 0.5 → factor 0.75; Retry-After honoured.
    assert clock.sleeps == [0.75, 1.5, 7.5]


def test_retry_budget_spent_raises_source_unavailable(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    for _ in range(3):
        http.post(AXL_URL, status=503)
    c = client(clock, policy=RetryPolicy(max_retries=2))
    with pytest.raises(SourceUnavailable, match="kept failing"):
        call(c)
    assert c.requests == 3


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_name_the_user_not_the_password(
    http: responses.RequestsMock, clock: FakeClock, status: int
) -> None:
    http.post(AXL_URL, status=status, body=b"")
    with pytest.raises(SourceAuthError) as err:
        call(client(clock))
    assert USER in err.value.message and PASSWORD not in err.value.one_line()
    assert clock.sleeps == []


def test_fault_is_raised_with_its_string_and_not_retried(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    http.post(AXL_URL, status=500, body=axl_fault("Syntax error", axlcode="-201"))
    c = client(clock)
    with pytest.raises(SoapFaultError, match=r"Syntax error \(axlcode -201\)") as err:
        call(c)
    assert err.value.fault.axl_code == "-201"
    assert c.requests == 1


def test_transient_fault_is_waited_out(http: responses.RequestsMock, clock: FakeClock) -> None:
    http.post(AXL_URL, status=500, body=fixture("axl_fault_memory.xml"))
    http.post(AXL_URL, body=sql_response([]))
    c = client(clock, fault_wait=lambda f: 5.0 if "Memory" in f.text else None)
    call(c)
    assert clock.sleeps == [5.0] and c.requests == 2


def test_unsafe_xml_is_refused_even_in_an_error_answer(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    http.post(AXL_URL, status=500, body=fixture("xxe_external_entity.xml"))
    with pytest.raises(UnsafeXmlError):
        call(client(clock))


def test_html_error_page_is_a_source_error(http: responses.RequestsMock, clock: FakeClock) -> None:
    http.post(AXL_URL, status=404, body=b"<html><body>Not Found</body></html>")
    with pytest.raises(SourceError, match="HTTP 404"):
        call(client(clock))


def test_every_soap_answer_is_passed_on_for_recording(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    seen: list[Exchange] = []
    http.post(AXL_URL, status=503)
    http.post(AXL_URL, status=500, body=fixture("axl_fault_memory.xml"))
    http.post(AXL_URL, body=sql_response([]))
    c = client(clock, fault_wait=lambda f: 1.0, on_exchange=seen.append)
    c.call("executeSQLQuery", b"<x/>", soap_action="a", request={"sql": "whole"})
    # The bare 503 is transport noise; the fault and the answer are SOAP answers.
    assert [(e.status, e.fault is not None, e.request) for e in seen] == [
        (500, True, {"sql": "whole"}),
        (200, False, {"sql": "whole"}),
    ]
