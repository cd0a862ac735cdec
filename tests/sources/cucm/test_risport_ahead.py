"""RisPort batches: the next batch is asked for while a settled answer's devices are read."""

from __future__ import annotations

from typing import Any

import pytest
import responses

from licensewatch.errors import SourceError
from licensewatch.sources.cucm import risport_answer
from licensewatch.sources.cucm.risport_answer import merge
from tests.sources.cucm.conftest import (
    PATIENCE_S,
    RIS_URL,
    Dev,
    FakeClock,
    Node,
    Served,
    names,
    ris_response,
    selected,
    texts,
)
from tests.sources.cucm.test_cucm_risport import reader


def reading_marks(served: Served, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each answer (one node each) marks itself read, then waits for the next request.

    Returns, for each answer read, whether the request after it arrived meanwhile.
    """
    node = risport_answer._node
    seen: list[bool] = []

    def read(head: Any) -> Any:
        served.reading[len(seen)].set()
        later = len(seen) + 1
        seen.append(later < len(served.arrived) and served.arrived[later].wait(PATIENCE_S))
        return node(head)

    monkeypatch.setattr(risport_answer, "_node", read)
    return seen


def test_the_next_batch_is_asked_for_while_a_settled_answer_is_read(
    http: responses.RequestsMock, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    phones = names(5)
    batches = [phones[0:2], phones[2:4], phones[4:]]
    served = Served(
        [
            (200, ris_response([Node("sub1", [Dev(n) for n in b])], state_info=f"s{i}"))
            for i, b in enumerate(batches, start=1)
        ],
        overlap=0,
    )
    http.add_callback(responses.POST, RIS_URL, callback=served)
    seen = reading_marks(served, monkeypatch)
    ris, client, *_ = reader(clock, batch=2)

    regs = ris.read(phones)

    assert seen == [True, True, False]
    assert served.while_reading == [True, True]
    assert served.most_in_flight == 1 and client.requests == 3
    assert [selected(c) for c in http.calls] == batches
    # Each request carries the StateInfo of the answer before it.
    assert [texts(c, "StateInfo") for c in http.calls] == [[""], ["s1"], ["s2"]]
    assert sorted(merge(regs.answers)) == sorted(n.casefold() for n in phones)


def test_an_answer_that_does_not_settle_its_batch_asks_for_nothing_ahead(
    http: responses.RequestsMock, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    phones = names(4)
    failed = ris_response([Node("sub1", [Dev(phones[0])]), Node("sub2", code="Error")])
    served = Served(
        [
            (200, failed),
            (200, ris_response([Node("sub1", [Dev(n) for n in phones[:2]])], state_info="s2")),
            (200, ris_response([Node("sub1", [Dev(n) for n in phones[2:]])], state_info="s3")),
        ]
    )
    http.add_callback(responses.POST, RIS_URL, callback=served)
    asked_while_reading: list[int] = []
    node = risport_answer._node

    def read(head: Any) -> Any:
        asked_while_reading.append(sum(e.is_set() for e in served.arrived))
        return node(head)

    monkeypatch.setattr(risport_answer, "_node", read)
    ris, *_ = reader(clock, batch=2)
    ris.read(phones)

    # A failed node: the same batch again (after a wait), then the second batch.
    assert [selected(c) for c in http.calls] == [phones[:2], phones[:2], phones[2:]]
    assert clock.sleeps == [2.0]
    # While the failed answer (two nodes) was read, no other request had been sent.
    assert asked_while_reading[:2] == [1, 1]


def test_devices_that_fail_to_read_stop_the_pull_once_the_next_answer_is_in(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    phones = names(6)
    bad = ris_response([Node("sub1", [Dev(phones[0]), Dev(phones[1])])]).replace(
        b"<ns1:TimeStamp>1704067200</ns1:TimeStamp>", b"<ns1:TimeStamp>soon</ns1:TimeStamp>", 1
    )
    good = ris_response([Node("sub1", [Dev(n) for n in phones[2:4]])])
    served = Served([(200, bad), (200, good), (200, good)])
    http.add_callback(responses.POST, RIS_URL, callback=served)
    ris, *_ = reader(clock, batch=2)
    with pytest.raises(SourceError, match=r"TimeStamp of .* as 'soon'"):
        ris.read(phones)
    # The second batch was asked for while the first was read, and nothing after it.
    assert [selected(c) for c in http.calls] == [phones[:2], phones[2:4]]
    assert not served.arrived[2].is_set()
