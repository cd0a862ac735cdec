"""AXL inventory: listPhone paging, executeSQLQuery rows, the too-large fault and its split."""

from __future__ import annotations

import re

import pytest
import responses

from licensewatch.errors import SourceError
from licensewatch.sources.cucm import axl
from licensewatch.sources.cucm.axl import (
    AxlInventory,
    InventoryPhone,
    parse_list_phone,
    parse_sql_rows,
    phone_sql,
)
from licensewatch.sources.cucm.soap import (
    SoapClient,
    SoapFaultError,
    UnsafeXmlError,
    local,
    parse_xml,
)
from tests.sources.cucm.conftest import (
    AXL_NS,
    AXL_URL,
    PASSWORD,
    USER,
    FakeClock,
    axl_fault,
    fixture,
    list_phone_response,
    names,
    request_xml,
    sql_response,
    texts,
    too_large,
)


def inventory(clock: FakeClock, page_size: int = 1000) -> tuple[AxlInventory, SoapClient]:
    client = SoapClient("AXL", AXL_URL, auth=(USER, PASSWORD), sleep=clock.sleep)
    return AxlInventory(client, "12.5", page_size=page_size), client


def sql_rows(phone_names: list[str]) -> list[dict[str, str | None]]:
    return [
        {
            "name": n,
            "description": None,
            "model": "Cisco 8845",
            "devicepool": "Default",
            "owner": None,
            "dnorpattern": None,
            "lastseen": "0",
        }
        for n in phone_names
    ]


def test_shared_list_phone_sample_is_parsed() -> None:
    phones = parse_list_phone(parse_xml(fixture("axl_listPhone_response.xml"), what="t"))
    assert phones == [
        InventoryPhone(
            "SEP001122334455", "Lobby Phone", "Cisco 8845", "Default", "jdoe", None, None
        ),
        InventoryPhone("SEPAABBCCDDEEFF", None, "Cisco 7841", "Default", None, None, None),
    ]


def test_sql_rows_are_parsed_with_lastseen_zero_and_empty_as_never() -> None:
    phones = parse_sql_rows(parse_xml(fixture("axl_executeSQLQuery_response.xml"), what="t"))
    assert [(p.name, p.owner, p.directory_number, p.last_seen_epoch) for p in phones] == [
        ("SEP001122334455", "jdoe", "1000", 1704067200),
        ("SEPAABBCCDDEEFF", None, "1001", None),
        ("SEP0A0B0C0D0E0F", "asmith", None, None),
    ]
    assert phones[2].description == "Meeting room & lab"


def test_sql_columns_are_named_by_local_part_in_any_case_and_unknown_tags_cost_no_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(axl, "_COLUMNS", {})
    monkeypatch.setattr(axl, "_MAX_COLUMNS", 8)
    junk = "".join(f"<x{n}>j</x{n}>" for n in range(20))  # more distinct tags than are kept
    rows = (
        f"<row><NAME>SEP1</NAME><m:Owner xmlns:m='urn:x'>ann</m:Owner>{junk}</row>"
        f"<row>{junk}<name>SEP2</name><owner>bob</owner><OWNER> zed </OWNER></row>"
    )
    xml = (
        f"<e:Envelope xmlns:e='http://schemas.xmlsoap.org/soap/envelope/'><e:Body>"
        f"<ns:executeSQLQueryResponse xmlns:ns='{AXL_NS}'><return>{rows}</return>"
        "</ns:executeSQLQueryResponse></e:Body></e:Envelope>"
    )
    for _ in range(2):  # the second time, the kept names answer
        phones = parse_sql_rows(parse_xml(xml.encode(), what="t"))
        assert [(p.name, p.owner) for p in phones] == [("SEP1", "ann"), ("SEP2", "zed")]
    assert len(axl._COLUMNS) == 8


def test_sql_text_joins_the_documented_columns() -> None:
    sql = phone_sql()
    for fragment in (
        "left outer join enduser as eu on eu.pkid = d.fkenduser",
        "left outer join registrationdynamic as rd on rd.fkdevice = d.pkid",
        "dnpm.numplanindex = 1",
        "rd.lastseen",
        "where d.tkclass = 1 order by d.name",
    ):
        assert fragment in sql
    assert phone_sql(843, 843).startswith("select skip 843 first 843 d.name")


def test_list_phone_pages_with_skip_and_first(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    everyone = names(2345)
    for start in (0, 1000, 2000):
        page = [{"name": n, "model": "Cisco 7841"} for n in everyone[start : start + 1000]]
        http.post(AXL_URL, body=list_phone_response(page))
    reader, client = inventory(clock)
    result = reader.read("listphone")
    assert [p.name for p in result.phones] == everyone
    assert client.requests == 3
    assert [(texts(c, "skip"), texts(c, "first")) for c in http.calls] == [
        (["0"], ["1000"]),
        (["1000"], ["1000"]),
        (["2000"], ["1000"]),
    ]
    first = http.calls[0]
    assert first.request.headers["SOAPAction"] == '"CUCM:DB ver=12.5 listPhone"'
    body = list(request_xml(first))[-1]
    top = next(iter(body))
    assert top.tag == f"{{{AXL_NS}}}listPhone"
    # Element for element the shape of the shared listPhone request sample.
    sample = parse_xml(fixture("axl_listPhone_request.xml"), what="sample")
    assert [local(e.tag) for e in request_xml(first).iter()] == [
        local(e.tag) for e in sample.iter()
    ]
    assert texts(first, "name")[0] == "%"


def test_sql_reads_everything_in_one_request_when_it_fits(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    http.post(AXL_URL, body=fixture("axl_executeSQLQuery_response.xml"))
    reader, client = inventory(clock)
    result = reader.read("sql")
    assert result.method == "sql" and len(result.phones) == 3 and client.requests == 1
    assert http.calls[0].request.headers["SOAPAction"] == '"CUCM:DB ver=12.5 executeSQLQuery"'
    assert texts(http.calls[0], "sql") == [phone_sql()]


def test_too_large_query_is_split_with_skip_first(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    everyone = names(2816)
    http.post(AXL_URL, status=500, body=fixture("axl_fault_query_too_large.xml"))
    for start in range(0, 2816, 843):
        http.post(AXL_URL, body=sql_response(sql_rows(everyone[start : start + 843])))
    reader, client = inventory(clock)
    result = reader.read("sql")
    assert [p.name for p in result.phones] == everyone
    # One refused whole query, then 843 + 843 + 843 + 287 rows.
    assert client.requests == 5
    pages = [
        re.match(r"select skip (\d+) first (\d+) ", texts(c, "sql")[0])
        for c in list(http.calls)[1:]
    ]
    assert [(m.group(1), m.group(2)) for m in pages if m] == [
        ("0", "843"),
        ("843", "843"),
        ("1686", "843"),
        ("2529", "843"),
    ]
    assert clock.sleeps == []


def test_a_page_still_too_large_is_split_further(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    everyone = names(1500)
    http.post(AXL_URL, status=500, body=too_large(1500, 1000))
    http.post(AXL_URL, status=500, body=too_large(999, 600))
    http.post(AXL_URL, body=sql_response(sql_rows(everyone[:599])))
    http.post(AXL_URL, body=sql_response(sql_rows(everyone[599:1198])))
    http.post(AXL_URL, body=sql_response(sql_rows(everyone[1198:])))
    reader, client = inventory(clock)
    assert [p.name for p in reader.sql_phones()] == everyone
    pages = [texts(c, "sql")[0].split()[1:5] for c in list(http.calls)[1:]]
    assert [(int(p[1]), int(p[3])) for p in pages] == [(0, 999), (0, 599), (599, 599), (1198, 599)]
    assert client.requests == 5


def test_refused_sql_falls_back_to_list_phone(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    http.post(AXL_URL, status=500, body=axl_fault("User not authorized to run executeSQLQuery"))
    http.post(AXL_URL, body=fixture("axl_listPhone_response.xml"))
    reader, client = inventory(clock)
    result = reader.read("sql")
    assert result.method == "listphone" and len(result.phones) == 2
    assert "executeSQLQuery refused" in result.notes[0]
    assert client.requests == 2


def test_other_sql_faults_fail_the_pull(http: responses.RequestsMock, clock: FakeClock) -> None:
    http.post(AXL_URL, status=500, body=axl_fault("SOAPAction does not match", axlcode="5003"))
    reader, _ = inventory(clock)
    with pytest.raises(SoapFaultError, match="SOAPAction does not match"):
        reader.read("sql")


def test_memory_allocation_fault_is_retried(http: responses.RequestsMock, clock: FakeClock) -> None:
    from licensewatch.sources.cucm.axl import busy_wait

    http.post(AXL_URL, status=500, body=fixture("axl_fault_memory.xml"))
    http.post(AXL_URL, body=fixture("axl_executeSQLQuery_response.xml"))
    client = SoapClient(
        "AXL", AXL_URL, auth=(USER, PASSWORD), sleep=clock.sleep, fault_wait=busy_wait
    )
    assert len(AxlInventory(client, "12.5").read("sql").phones) == 3
    assert clock.sleeps == [5.0]


def test_lastseen_that_is_not_epoch_seconds_fails(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    row = sql_rows(["SEP1"])[0] | {"lastseen": "2024-01-01"}
    http.post(AXL_URL, body=sql_response([row]))
    with pytest.raises(SourceError, match="lastseen of '2024-01-01'"):
        inventory(clock)[0].read("sql")


def test_external_entity_in_an_axl_answer_is_rejected(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    http.post(AXL_URL, body=fixture("xxe_external_entity.xml"))
    with pytest.raises(UnsafeXmlError):
        inventory(clock)[0].read("sql")
