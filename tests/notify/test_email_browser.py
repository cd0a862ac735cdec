"""The emails in a real browser at a reading pane's width: nothing scrolls sideways.

Headless Chromium (tests/reports/browser.py) opens the HTML part of the sample
department's notice, reminder and overdue notice (tests/notify/sample.py:
long names and addresses, licences and phones) with a viewport 600 px wide,
as Outlook's reading pane shows it, and 800 px wide. Skipped only when
Chromium is missing outside CI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.notify import sample
from tests.reports import browser

EXECUTABLE = browser.chromium()


@pytest.fixture(scope="module")
def chrome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[browser.Browser]:
    if EXECUTABLE is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is required in CI (.ci/run installs Debian's chromium package)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with browser.Browser(EXECUTABLE, tmp_path_factory.mktemp("chromium-profile")) as opened:
        yield opened


def opened(chrome: browser.Browser, page: Path, width: int) -> None:
    chrome.call(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        session=True,
    )
    chrome.open(page.as_uri())


@pytest.mark.parametrize("width", [600, 800])
@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("kind", ["notice", "reminder", "overdue"])
def test_the_email_fits_the_reading_pane(
    chrome: browser.Browser, tmp_path: Path, kind: str, language: str, width: int
) -> None:
    page = tmp_path / f"{kind}.html"
    page.write_text(sample.html(kind, language), encoding="utf-8")
    opened(chrome, page, width)
    assert chrome.requests() == [page.as_uri()]  # no image, font or tracker is fetched
    assert chrome.evaluate("document.documentElement.clientWidth") == width
    page_width = chrome.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert page_width[0] <= page_width[1], page_width
    tables = chrome.evaluate(
        "Array.from(document.querySelectorAll('table')).map(t => [t.scrollWidth, t.clientWidth])"
    )
    # A table grows with its content, so its scrollWidth is held to the pane's width too.
    assert tables and all(scroll <= min(client, width) for scroll, client in tables), tables
    # One row per person, plus a heading row per group: the 12 people of the sample.
    people = chrome.evaluate(
        "Array.from(document.querySelectorAll('table.people tbody tr'))"
        ".filter(r => r.cells.length == 3).length"
    )
    assert people == 12
    # The ask comes before the table.
    order = chrome.evaluate(
        "(() => { const box = document.querySelector('div[style*=\"border\"]');"
        " const table = document.querySelector('table.people');"
        " return box.getBoundingClientRect().bottom <= table.getBoundingClientRect().top; })()"
    )
    assert order is True


def test_a_long_unbroken_address_wraps_instead_of_widening_the_table(
    chrome: browser.Browser, tmp_path: Path
) -> None:
    html = sample.html("notice", "en").replace(
        "ana.martins@legal.example.org", "a" * 90 + "@legal.example.org"
    )
    page = tmp_path / "long.html"
    page.write_text(html, encoding="utf-8")
    opened(chrome, page, 600)
    widths = chrome.evaluate(
        "Array.from(document.querySelectorAll('table')).map(t => [t.scrollWidth, t.clientWidth])"
    )
    assert all(scroll <= min(client, 600) for scroll, client in widths), widths
    assert chrome.evaluate("document.documentElement.scrollWidth") <= 600
