"""RisPort70: batching, StateInfo, duplicates across nodes, nil CmNodes, rate limits, bad nodes."""

from __future__ import annotations

import pytest
import responses

from licensewatch.errors import SourceError
from licensewatch.sources.cucm.risport import RateControl, RateLimiter, RisPortReader
from licensewatch.sources.cucm.risport_answer import merge, parse_select
from licensewatch.sources.cucm.soap import SoapClient, UnsafeXmlError, local, parse_xml
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
    selected,
    texts,
)


def reader(
    clock: FakeClock, *, per_minute: int = 15, batch: int = 1000, max_retries: int = 2
) -> tuple[RisPortReader, SoapClient, RateLimiter, RateControl]:
    limiter = RateLimiter(per_minute, clock=clock, sleep=clock.sleep)
    control = RateControl()
    client = SoapClient(
        "RisPort",
        RIS_URL,
        auth=(USER, PASSWORD),
        sleep=clock.sleep,
        before_request=limiter.acquire,
        fault_wait=control,
    )
    ris = RisPortReader(client, batch_size=batch, max_retries=max_retries, sleep=clock.sleep)
    return ris, client, limiter, control


def test_shared_one_device_sample_is_parsed() -> None:
    answer = parse_select(parse_xml(fixture("risport_one_device.xml"), what="t"))
    assert answer.total_found == 1 and answer.state_info == ""
    [node] = answer.nodes
    assert (node.name, node.ok, node.no_change) == ("cucm-sub1", True, False)
    [dev] = node.devices
    assert (dev.name, dev.status, dev.timestamp) == ("SEP001122334455", "registered", 1704067200)


def test_nil_cm_nodes_sample_means_no_node_knows_the_phones() -> None:
    answer = parse_select(parse_xml(fixture("risport_zero_devices_nil_cmnodes.xml"), what="t"))
    assert answer.total_found == 0 and answer.nodes == ()
    assert merge([answer]) == {}


def test_request_has_the_documented_shape() -> None:
    from licensewatch.sources.cucm.risport import select_request

    sent = parse_xml(select_request(["SEP001122334455"], "state-1"), what="request")
    sample = parse_xml(fixture("risport_selectCmDeviceExt_request.xml"), what="sample")
    assert [local(e.tag) for e in sent.iter()] == [local(e.tag) for e in sample.iter()]
    by_name = {local(e.tag): (e.text or "") for e in sent.iter()}
    assert by_name["MaxReturnedDevices"] == "1000" and by_name["Model"] == "255"
    assert by_name["DeviceClass"] == "Phone" and by_name["Status"] == "Any"
    assert by_name["SelectBy"] == "Name" and by_name["StateInfo"] == "state-1"


def test_batches_of_at_most_1000_names_and_state_info_carried_forward(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    everyone = names(2500)
    for i in range(3):
        http.post(RIS_URL, body=ris_response([Node("cucm-sub1")], state_info=f"state-{i + 1}"))
    ris, client, _, _ = reader(clock)
    ris.read(everyone)
    assert [len(selected(c)) for c in http.calls] == [1000, 1000, 500]
    assert [n for c in http.calls for n in selected(c)] == everyone
    assert [texts(c, "StateInfo") for c in http.calls] == [[""], ["state-1"], ["state-2"]]
    assert http.calls[0].request.headers["SOAPAction"] == '"selectCmDeviceExt"'
    assert client.requests == 3 and clock.sleeps == []


def test_duplicates_across_nodes_newest_timestamp_wins(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    http.post(
        RIS_URL,
        body=ris_response(
            [
                Node("cucm-sub1", [Dev("SEPA", "Registered", 100), Dev("SEPB", "UnRegistered", 3)]),
                Node("cucm-sub2", [Dev("SEPA", "UnRegistered", 200), Dev("sepb", "Registered", 2)]),
                Node("cucm-sub3", [Dev("SEPC", "PartiallyRegistered", 50)]),
            ]
        ),
    )
    ris, *_ = reader(clock)
    merged = merge(ris.read(["SEPA", "SEPB", "SEPC"]).answers)
    assert {k: (d.status, d.timestamp, d.node) for k, d in merged.items()} == {
        "sepa": ("unregistered", 200, "cucm-sub2"),
        "sepb": ("unregistered", 3, "cucm-sub1"),
        "sepc": ("partially_registered", 50, "cucm-sub3"),
    }


def test_rate_control_fault_is_answered_by_waiting_and_retrying(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    http.post(RIS_URL, status=500, body=fixture("risport_ratelimit_fault.xml"))
    http.post(RIS_URL, body=ris_response([Node("cucm-sub1", [Dev("SEPA")])]))
    ris, client, _, control = reader(clock)
    merged = merge(ris.read(["SEPA"]).answers)
    assert merged["sepa"].status == "registered"
    assert client.requests == 2 and control.faults == 1
    assert clock.sleeps == [60.0]


def test_rate_limit_is_kept_without_real_sleeping(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    sent_at: list[float] = []

    def answer(request: object) -> tuple[int, dict[str, str], bytes]:
        sent_at.append(clock.now)
        return 200, {}, ris_response([Node("cucm-sub1")])

    http.add_callback(responses.POST, RIS_URL, callback=answer)
    ris, client, limiter, _ = reader(clock, batch=10)
    ris.read(names(400))  # 40 requests at 15 a minute
    assert client.requests == 40
    for i, t in enumerate(sent_at):
        assert sum(1 for u in sent_at if t <= u < t + 60.0) <= 15, f"request {i}"
    # Bursts of 15 at 0 s, 61 s and 122 s: the floor of 40 requests at 15/min plus the margin.
    assert sent_at[0] == 1000.0 and sent_at[15] == 1061.0 and sent_at[30] == 1122.0
    assert clock.now - 1000.0 == pytest.approx(122.0) and limiter.waited_s == pytest.approx(122.0)


def test_failed_node_is_retried_then_fails_the_pull_for_undetermined_phones(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    for _ in range(3):
        http.post(
            RIS_URL,
            body=ris_response(
                [Node("cucm-sub1", [Dev("SEPA")]), Node("cucm-sub2", code="NodeNotResponding")]
            ),
        )
    ris, client, _, _ = reader(clock, max_retries=2)
    with pytest.raises(SourceError, match=r"cucm-sub2 \(NodeNotResponding\).* 1 phones"):
        ris.read(["SEPA", "SEPB"])
    assert client.requests == 3 and clock.sleeps == [2.0, 4.0]


def test_failed_node_is_tolerated_when_every_phone_is_registered_elsewhere(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    http.post(
        RIS_URL,
        body=ris_response(
            [Node("cucm-sub1", [Dev("SEPA"), Dev("SEPB")]), Node("cucm-sub2", code="InternalError")]
        ),
    )
    ris, client, _, _ = reader(clock, max_retries=0)
    out = ris.read(["SEPA", "SEPB"])
    assert client.requests == 1
    assert "registered on another node" in out.notes[0]


def test_a_phone_registered_in_any_attempt_of_its_batch_is_determined(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    # Each attempt one node answers and the other fails: SEPA is registered by the first
    # attempt's answer, SEPB by the second's; neither is left undetermined.
    http.post(RIS_URL, body=ris_response(
        [Node("cucm-sub1", [Dev("SEPA")]), Node("cucm-sub2", code="NodeNotResponding")]
    ))  # fmt: skip
    http.post(RIS_URL, body=ris_response(
        [Node("cucm-sub1", code="NodeNotResponding"), Node("cucm-sub2", [Dev("SEPB")])]
    ))  # fmt: skip
    ris, client, _, _ = reader(clock, max_retries=1)
    out = ris.read(["SEPA", "SEPB"])
    assert client.requests == 2
    assert "registered on another node" in out.notes[0]


def test_a_node_that_recovers_on_retry_is_fine(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    http.post(RIS_URL, body=ris_response([Node("cucm-sub1", code="InternalError")]))
    http.post(RIS_URL, body=ris_response([Node("cucm-sub1", [Dev("SEPA", "UnRegistered", 7)])]))
    ris, client, _, _ = reader(clock)
    assert merge(ris.read(["SEPA", "SEPB"]).answers)["sepa"].status == "unregistered"
    assert client.requests == 2


def test_not_found_node_is_an_answer(http: responses.RequestsMock, clock: FakeClock) -> None:
    http.post(RIS_URL, body=ris_response([Node("cucm-sub1", code="NotFound")]))
    ris, client, _, _ = reader(clock)
    assert merge(ris.read(["SEPA"]).answers) == {} and client.requests == 1


def test_no_change_to_a_carried_state_info_is_asked_again_afresh(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    http.post(RIS_URL, body=ris_response([Node("cucm-sub1", [Dev("SEPA")])], state_info="s1"))
    http.post(RIS_URL, body=ris_response([Node("cucm-sub1", no_change=True)], state_info="s2"))
    http.post(RIS_URL, body=ris_response([Node("cucm-sub1", [Dev("SEPB")])], state_info="s3"))
    ris, client, _, _ = reader(clock, batch=1)
    merged = merge(ris.read(["SEPA", "SEPB"]).answers)
    assert set(merged) == {"sepa", "sepb"}
    assert [texts(c, "StateInfo") for c in http.calls] == [[""], ["s1"], [""]]
    assert client.requests == 3


def test_answer_cut_short_is_asked_again_in_halves(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    http.post(RIS_URL, body=ris_response([Node("cucm-sub1", [Dev("SEPA")])], total=3))
    http.post(RIS_URL, body=ris_response([Node("cucm-sub1", [Dev("SEPA")])]))
    http.post(RIS_URL, body=ris_response([Node("cucm-sub1", [Dev("SEPB"), Dev("SEPC")])]))
    ris, *_ = reader(clock)
    out = ris.read(["SEPA", "SEPB", "SEPC", "SEPD"])
    assert [selected(c) for c in http.calls] == [
        ["SEPA", "SEPB", "SEPC", "SEPD"],
        ["SEPA", "SEPB"],
        ["SEPC", "SEPD"],
    ]
    assert set(merge(out.answers)) == {"sepa", "sepb", "sepc"} and "two halves" in out.notes[0]


def test_external_entity_in_a_risport_answer_is_rejected(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    http.post(RIS_URL, body=fixture("xxe_external_entity.xml"))
    ris, *_ = reader(clock)
    with pytest.raises(UnsafeXmlError):
        ris.read(["SEPA"])


def test_limiter_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)


def test_a_timestamp_that_is_not_a_number_names_the_device_and_the_value() -> None:
    xml = fixture("risport_one_device.xml").replace(b"1704067200", b" soon ")
    with pytest.raises(SourceError) as caught:
        parse_select(parse_xml(xml, what="t"))
    assert str(caught.value).startswith(
        "RisPort gave the TimeStamp of SEP001122334455 as 'soon', not a whole number"
    )


def test_only_the_first_of_a_repeated_device_field_is_read() -> None:
    xml = fixture("risport_one_device.xml")
    assert xml.count(b"1704067200") == 1
    start = xml.index(b"1704067200")
    tag_end = xml.rindex(b"<", 0, start)  # the opening TimeStamp tag
    opening = xml[tag_end : xml.index(b">", tag_end) + 1]
    closing = b"</" + opening[1:]
    again = opening + b"1" + closing
    xml = xml.replace(closing, closing + again, 1)
    [node] = parse_select(parse_xml(xml, what="t")).nodes
    assert node.devices[0].timestamp == 1704067200


def test_an_entry_without_a_name_is_listed_but_not_read(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    # Two entries listed of two found: the answer is whole (no halving), and the nameless
    # entry is no device.
    xml = ris_response([Node("sub1", [Dev("SEPA"), Dev("SEPB")])]).replace(
        b"<ns1:Name>SEPB</ns1:Name>", b"<ns1:Name> </ns1:Name>"
    )
    answer = parse_select(parse_xml(xml, what="t"))
    assert answer.total_found == 2 and answer.entries == 2
    assert [d.name for d in answer.nodes[0].devices] == ["SEPA"]
    http.post(RIS_URL, body=xml)
    ris, client, *_ = reader(clock)
    regs = ris.read(["SEPA", "SEPB"])
    assert client.requests == 1 and regs.notes == []
