"""Regenerate the email screenshots in this folder: what a focal point sees, at 600 and 800 px.

    python docs/screenshots/make_screenshots.py      (from the repository root)

Composes the notice, reminder and overdue notice of the sample department
(tests/notify/sample.py) and the steering committee's digest, in English and
French, opens each HTML part in headless Chromium (Debian's ``chromium``;
tests/reports/browser.py drives it,
network blocked) with a viewport 600 px wide (a reading pane) and 800 px
wide, and saves a full-page screenshot as ``<kind>_<language>_<width>.png``.
With Pillow installed (``pip install pillow``) each PNG is reduced to a
64-colour palette so that it stays small. Prints, for each, whether the page
or its table scrolls sideways (it must not).
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from tests.notify import sample  # noqa: E402
from tests.reports import browser  # noqa: E402

KINDS = ("notice", "reminder", "overdue", "digest")
LANGUAGES = ("en", "fr")
WIDTHS = (600, 800)
#: The page's and the widest table's scroll and client widths, as the browser measures them.
MEASURE = (
    "(() => { const t = Array.from(document.querySelectorAll('table'));"
    " return [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
    " Math.max(...t.map(x => x.scrollWidth - x.clientWidth))]; })()"
)


def shrink(png: bytes) -> bytes:
    """A 64-colour palette PNG of ``png`` when Pillow is installed, else ``png`` as it is."""
    try:
        from PIL import Image
    except ImportError:
        return png
    image = Image.open(io.BytesIO(png)).convert("RGB")
    out = io.BytesIO()
    image.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(out, "PNG", optimize=True)
    return out.getvalue()


def shoot(chrome: browser.Browser, page: Path, width: int) -> tuple[bytes, list[int]]:
    """A full-page screenshot of ``page`` in a viewport ``width`` px wide, and its measures."""
    chrome.call(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        session=True,
    )
    chrome.open(page.as_uri())
    return chrome.screenshot(), chrome.evaluate(MEASURE)


def main() -> int:
    """Write every screenshot; 1 if a page scrolls sideways or Chromium is missing."""
    executable = browser.chromium()
    if executable is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    wide = 0
    with tempfile.TemporaryDirectory() as tmp, browser.Browser(executable, Path(tmp)) as chrome:
        for kind in KINDS:
            for language in LANGUAGES:
                page = Path(tmp) / f"{kind}_{language}.html"
                if kind == "digest":
                    text = sample.digest_html(language)
                else:
                    text = sample.html(kind, language)
                page.write_text(text, encoding="utf-8")
                for width in WIDTHS:
                    png, (scroll, client, table_overflow) = shoot(chrome, page, width)
                    name = HERE / f"{kind}_{language}_{width}.png"
                    name.write_bytes(shrink(png))
                    sideways = scroll > client or table_overflow > 0
                    wide += sideways
                    print(
                        f"{name.name}: {name.stat().st_size // 1024} KB, page {scroll}/{client} px,"
                        f" table overflow {table_overflow} px{' SCROLLS SIDEWAYS' * sideways}"
                    )
    return 1 if wide else 0


if __name__ == "__main__":
    raise SystemExit(main())
