"""Graph users pages: the next page is asked for while this one is read, one request in flight."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import responses

from licensewatch.sources.graph import typed_page
from tests.sources.graph.conftest import (
    COUNT_URL,
    SKUS_URL,
    USERS_URL,
    Waits,
    add_count,
    add_json,
    add_login,
    calls,
    graph_settings,
    make_source,
    next_link,
    raw,
)

#: How long reading a page waits for the next page's request before calling the pull sequential.
PATIENCE_S = 10.0
PAGES = ("users_page_1.json", "users_page_2.json", "users_page_3.json")
URLS = (USERS_URL, next_link(PAGES[0]), next_link(PAGES[1]))


class Pages:
    """Answers the three users pages, noting when each request arrives and how many overlap.

    A page's answer waits (up to :data:`PATIENCE_S`) until the page before it is
    being read, and notes whether it was: a pull that asks for the next page
    before it reads this one, but not meanwhile, is told apart.
    """

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.arrived = {url: threading.Event() for url in URLS}
        self.reading = {url: threading.Event() for url in URLS}
        self.while_reading: list[bool] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        for n, (url, name) in enumerate(zip(URLS, PAGES, strict=True)):
            before = URLS[n - 1] if n else None
            rsps.add_callback(
                responses.GET, url, callback=self._answer(url, raw(name), before), content_type=None
            )

    def _answer(self, url: str, body: bytes, before: str | None) -> Any:
        def answer(request: Any) -> tuple[int, dict[str, str], bytes]:
            with self._lock:
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.arrived[url].set()
            if before is not None:
                self.while_reading.append(self.reading[before].wait(PATIENCE_S))
            with self._lock:
                self.in_flight -= 1
            return 200, {"Content-Type": "application/json"}, body

        return answer


def serve(rsps: responses.RequestsMock) -> Pages:
    """The sign-in, subscribedSkus and the three users pages."""
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    return Pages(rsps)


def test_the_next_page_is_asked_for_while_this_one_is_read(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = serve(rsps)
    add_count(rsps, 5)
    columns = typed_page.columns
    seen: list[bool] = []

    def read(page: typed_page.Page) -> dict[str, list[Any]]:
        pages.reading[URLS[len(seen)]].set()
        later = URLS[len(seen) + 1] if len(seen) + 1 < len(URLS) else None
        seen.append(later is not None and pages.arrived[later].wait(PATIENCE_S))
        return columns(page)

    monkeypatch.setattr(typed_page, "columns", read)
    pulled = make_source(graph_settings(tmp_path), waits).pull()

    # Pages 1 and 2 were being read when their successors were asked for; the last
    # page has no nextLink, and the $count check comes after it.
    assert seen == [True, True, False]
    assert pages.while_reading == [True, True]
    assert pages.most_in_flight == 1
    assert [url for _, url in calls(rsps)][-4:] == [*URLS, COUNT_URL]
    assert len(pulled.accounts) == 5


def test_a_page_that_fails_to_read_stops_the_pull_once_its_successor_is_answered(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = serve(rsps)

    def read(page: typed_page.Page) -> dict[str, list[Any]]:
        pages.reading[URLS[0]].set()
        raise RuntimeError("reading the page failed")

    monkeypatch.setattr(typed_page, "columns", read)
    with pytest.raises(RuntimeError, match="reading the page failed"):
        make_source(graph_settings(tmp_path), waits).pull()
    # Page 2 was asked for while page 1 was read: answered before the error left the
    # pull; page 3 (whose link is in page 2) and $count were never asked for.
    assert [url for _, url in calls(rsps)][-2:] == [URLS[0], URLS[1]]
    assert not pages.arrived[URLS[2]].is_set()
