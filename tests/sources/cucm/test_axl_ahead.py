"""AXL pages: the next page is asked for while this one is read, one request in flight."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import responses

from licensewatch.errors import SourceError
from licensewatch.sources.cucm import axl
from licensewatch.sources.cucm.axl import AxlInventory, InventoryPhone
from licensewatch.sources.cucm.soap import SoapClient
from tests.sources.cucm.conftest import (
    AXL_URL,
    PASSWORD,
    PATIENCE_S,
    USER,
    FakeClock,
    Served,
    fixture,
    list_phone_response,
    names,
    sql_response,
    texts,
)
from tests.sources.cucm.test_cucm_axl import sql_rows


def reader(clock: FakeClock, page_size: int = 1000) -> AxlInventory:
    client = SoapClient("AXL", AXL_URL, auth=(USER, PASSWORD), sleep=clock.sleep)
    return AxlInventory(client, "12.5", page_size=page_size)


def waiting_reads(
    read: Callable[[Any], list[InventoryPhone]], served: Served, seen: list[bool], first: int
) -> Callable[[Any], list[InventoryPhone]]:
    """``read``, which first waits for the request after the page it reads.

    ``first`` is the number (from 0) of the request that answered the first page;
    ``seen`` gets, for each page read, whether its successor was asked for meanwhile.
    """

    def wrapped(root: Any) -> list[InventoryPhone]:
        served.reading[first + len(seen)].set()
        successor = first + len(seen) + 1
        later = served.arrived[successor] if successor < len(served.arrived) else None
        seen.append(later is not None and later.wait(PATIENCE_S))
        return read(root)

    return wrapped


def test_the_next_sql_page_is_asked_for_while_this_one_is_read(
    http: responses.RequestsMock, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    everyone = names(2816)
    bodies = [(500, fixture("axl_fault_query_too_large.xml"))] + [
        (200, sql_response(sql_rows(everyone[start : start + 843])))
        for start in range(0, 2816, 843)
    ]
    served = Served(bodies, overlap=1)
    http.add_callback(responses.POST, AXL_URL, callback=served)
    seen: list[bool] = []
    monkeypatch.setattr(axl, "parse_sql_rows", waiting_reads(axl.parse_sql_rows, served, seen, 1))

    phones = reader(clock).sql_phones()

    assert [p.name for p in phones] == everyone
    # Each full page (843 rows) was being read when its successor was asked for; the short
    # last page asks for nothing more.
    assert seen == [True, True, True, False]
    assert served.while_reading == [True, True, True]
    assert len(http.calls) == 5 and served.most_in_flight == 1
    skips = [texts(c, "sql")[0].split()[1:5] for c in list(http.calls)[1:]]
    assert [(int(s[1]), int(s[3])) for s in skips] == [
        (0, 843),
        (843, 843),
        (1686, 843),
        (2529, 843),
    ]


def test_the_next_list_phone_page_is_asked_for_while_this_one_is_read(
    http: responses.RequestsMock, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    everyone = names(2000)
    bodies = [
        (200, list_phone_response([{"name": n, "model": "Cisco 7841"} for n in page]))
        for page in (everyone[:1000], everyone[1000:], [])
    ]
    served = Served(bodies, overlap=0)
    http.add_callback(responses.POST, AXL_URL, callback=served)
    seen: list[bool] = []
    read = waiting_reads(axl.parse_list_phone, served, seen, 0)
    monkeypatch.setattr(axl, "parse_list_phone", read)

    phones = reader(clock).list_phones()

    assert [p.name for p in phones] == everyone
    # Two full pages, then an empty one: exactly the requests a one-by-one pull makes.
    assert seen == [True, True, False]
    assert served.while_reading == [True, True]
    assert [(texts(c, "skip"), texts(c, "first")) for c in http.calls] == [
        (["0"], ["1000"]),
        (["1000"], ["1000"]),
        (["2000"], ["1000"]),
    ]


def test_a_page_that_fails_to_read_stops_the_pull_once_its_successor_is_answered(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    good = sql_rows(names(843))
    bad = [{**row, "name": None} if i == 5 else row for i, row in enumerate(sql_rows(names(843)))]
    served = Served(
        [
            (500, fixture("axl_fault_query_too_large.xml")),
            (200, sql_response(good)),
            (200, sql_response(bad)),
            (200, sql_response(good)),
            (200, sql_response(good)),
        ]
    )
    http.add_callback(responses.POST, AXL_URL, callback=served)
    with pytest.raises(SourceError, match="without a device name"):
        reader(clock).sql_phones()
    # The refused query, two pages read, and the page asked for while the second was read:
    # answered before the error left the pull, and nothing asked after it.
    assert len(http.calls) == 4
    assert not served.arrived[4].is_set()


def test_a_too_large_page_is_asked_again_smaller_at_the_same_rows(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    everyone = names(1200)
    served = Served(
        [
            (200, list_phone_response([{"name": n} for n in everyone[:1000]])),
            (500, fixture("axl_fault_query_too_large.xml")),
            (200, list_phone_response([{"name": n} for n in everyone[1000:]])),
        ]
    )
    http.add_callback(responses.POST, AXL_URL, callback=served)
    phones = reader(clock).list_phones()
    assert [p.name for p in phones] == everyone
    assert [(texts(c, "skip"), texts(c, "first")) for c in http.calls] == [
        (["0"], ["1000"]),
        (["1000"], ["1000"]),
        (["1000"], ["843"]),
    ]


def test_an_answer_without_its_response_element_fails_before_a_next_page_is_asked_for(
    http: responses.RequestsMock, clock: FakeClock
) -> None:
    served = Served(
        [
            (500, fixture("axl_fault_query_too_large.xml")),
            (200, list_phone_response([{"name": "SEPA"}])),  # a listPhone answer to SQL
            (200, sql_response(sql_rows(names(843)))),
        ]
    )
    http.add_callback(responses.POST, AXL_URL, callback=served)
    with pytest.raises(SourceError, match="no <executeSQLQueryResponse> element"):
        reader(clock).sql_phones()
    assert len(http.calls) == 2 and not served.arrived[2].is_set()
