"""The HTML reports in a real browser, offline: charts drawn, nothing requested.

Headless Chromium (Debian's ``chromium`` package; ``.ci/run`` installs it)
opens each page from a file with the network blocked, the DevTools protocol
logs every request, and screenshots of the charts are decoded to check that
bars and lines were painted. Skipped only when Chromium is missing outside CI.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from licensewatch.cli.reports import report_risk
from licensewatch.reports.charts import BAR_COLOR, LINE_COLORS
from tests.reports import browser
from tests.reports.conftest import RUN_DAYS, History, write_reports_like_the_pipeline

EXECUTABLE = browser.chromium()


@pytest.fixture(scope="module")
def chrome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[browser.Browser]:
    if EXECUTABLE is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is required in CI (.ci/run installs Debian's chromium package)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with browser.Browser(EXECUTABLE, tmp_path_factory.mktemp("chromium-profile")) as opened:
        yield opened


def rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def painted(chrome: browser.Browser, selector: str, color: str) -> tuple[int, int]:
    """Pixels of ``color`` and of any non-white colour in a screenshot of ``selector``."""
    box = chrome.evaluate(
        f"(() => {{ const r = document.querySelector({selector!r}).getBoundingClientRect();"
        " return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height]; })()"
    )
    x, y, width, height = box
    shot = chrome.call(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": x, "y": y, "width": width, "height": height, "scale": 1},
        },
        session=True,
    )
    _, _, pixels = browser.png_pixels(base64.b64decode(shot["data"]))
    want = rgb(color)
    exact = sum(1 for p in pixels if p[:3] == want)
    ink = sum(1 for p in pixels if p[:3] != (255, 255, 255))
    return exact, ink


def test_finance_page_draws_its_charts_offline(
    chrome: browser.Browser, history: History, tmp_path: Path
) -> None:
    write_reports_like_the_pipeline(history.settings, RUN_DAYS[-1], tmp_path)
    page = tmp_path / "finance_summary.html"
    chrome.open(page.as_uri())
    assert chrome.requests() == [page.as_uri()]
    assert chrome.evaluate("document.querySelectorAll('svg.bar-chart rect.bar').length") == 3
    widths = chrome.evaluate(
        "Array.from(document.querySelectorAll('svg.bar-chart rect.bar'))"
        ".map(r => r.getBoundingClientRect().width)"
    )
    assert all(w > 0 for w in widths) and widths == sorted(widths, reverse=True)
    assert chrome.evaluate("document.querySelectorAll('svg.trend-chart polyline.line').length") == 2
    assert chrome.evaluate("document.querySelector('dd[data-figure=annual_avoidable_usd]')"
                           ".dataset.value") == "1638.00"  # fmt: skip

    bar_pixels, ink = painted(chrome, "svg.bar-chart", BAR_COLOR)
    # Three bars of 22 px: at least most of their area is painted in the bar colour.
    assert bar_pixels > 0.8 * sum(widths) * 22, (bar_pixels, widths)
    assert ink > bar_pixels
    line_pixels, _ = painted(chrome, "svg.trend-chart", LINE_COLORS[1])
    assert line_pixels > 100
    full = chrome.screenshot()
    assert full[:8] == b"\x89PNG\r\n\x1a\n" and len(full) > 20_000
    (tmp_path / "finance_summary.png").write_bytes(full)


def test_risk_page_draws_its_charts_offline(
    chrome: browser.Browser, history: History, tmp_path: Path
) -> None:
    page = report_risk(history.settings, as_of=None, fmt="html", out=tmp_path / "risk.html")
    chrome.open(page.as_uri())
    assert chrome.requests() == [page.as_uri()]
    counts = chrome.evaluate(
        "Array.from(document.querySelectorAll('svg.bar-chart'))"
        ".map(s => s.querySelectorAll('rect.bar').length)"
    )
    assert counts == [4, 7]  # ageing buckets; reasons present
    bar_pixels, _ = painted(chrome, "svg.bar-chart", BAR_COLOR)
    assert bar_pixels > 500  # the one person in 31–90 days


def test_a_page_that_fetches_is_caught(chrome: browser.Browser, tmp_path: Path) -> None:
    """Control: the request log sees a fetch, so an empty log means the pages fetch nothing."""
    page = tmp_path / "leaky.html"
    page.write_text(
        "<!DOCTYPE html><html><body><img src='http://example.invalid/pixel.png'></body></html>",
        encoding="utf-8",
    )
    chrome.open(page.as_uri())
    assert chrome.requests() == [page.as_uri(), "http://example.invalid/pixel.png"]
