"""The finance page and its SVG charts: figures, escaping, self-containment, BRAKED, overrides."""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from licensewatch.errors import ConfigError
from licensewatch.reports import charts
from licensewatch.reports.finance_view import DepartmentRow
from licensewatch.reports.history import PeriodPoint, RunPoint
from licensewatch.reports.html import department_bars, finance_html
from licensewatch.reports.render import environment, md, percent, usd
from tests.reports.costed import costed, finding
from tests.reports.test_findings import COSTED
from tests.reports.test_xlsx import view_of

HOSTILE = "<img src=x onerror=alert(1)>&\"'"


class Elements(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [
            a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())
        ]


def figures(page: str) -> dict[str, str]:
    return {str(a["data-figure"]): str(a["data-value"]) for a in Elements(page).all("dd")}


def assert_self_contained(page: str) -> None:
    """Nothing in the page would make a browser fetch anything."""
    parsed = Elements(page)
    assert not parsed.all("script") and not parsed.all("link") and not parsed.all("img")
    assert not parsed.all("iframe") and not parsed.all("object")
    for _, attrs in parsed.tags:
        for name, value in attrs.items():
            assert name not in ("src", "href", "srcset", "action", "background"), (name, value)
    assert "url(" not in page and "@import" not in page
    # The only URL is the SVG namespace, which is a name and is never fetched.
    assert set(re.findall(r"https?://[^'\" )>]+", page)) <= {"http://www.w3.org/2000/svg"}


def test_bar_chart_draws_one_rect_per_bar_and_escapes_labels() -> None:
    svg = str(
        charts.bar_chart(
            [charts.Bar("Legal", 300), charts.Bar(HOSTILE, 100), charts.Bar("Zero", 0)],
            title="Cost <by> department",
            text=usd,
        )
    )
    parsed = Elements(svg)
    rects = parsed.all("rect")
    assert [r["class"] for r in rects] == ["bar"] * 3
    assert [float(str(r["width"])) for r in rects] == [450.0, 150.0, 0.0]
    assert rects[1]["data-label"] == HOSTILE
    assert "<img" not in svg and "&lt;img src=x onerror=alert(1)&gt;&amp;&quot;&#x27;" in svg
    assert "Cost &lt;by&gt; department" in svg
    assert "3.00" in "".join(parsed.text)


def test_empty_charts_say_so() -> None:
    assert "Nothing to show" in charts.bar_chart([], title="t", text=usd)
    assert "No runs to show yet" in charts.trend_chart([], [], title="t")
    with pytest.raises(ValueError, match="one value per label"):
        charts.trend_chart(["a", "b"], [charts.Series("s", [1], str)], title="t")


def test_trend_chart_lines_points_and_whole_ticks() -> None:
    svg = str(
        charts.trend_chart(
            ["2018-12-31", "2019-06-30", "2019-12-31"],
            [charts.Series("Dormant <accounts>", [1869, 3000, 5441], str)],
            title="trend",
        )
    )
    parsed = Elements(svg)
    assert len(parsed.all("polyline", **{"class": "line"})) == 1
    assert len(parsed.all("circle", **{"class": "point"})) == 3
    assert "Dormant &lt;accounts&gt;" in svg
    ticks = [t for t in parsed.text if t.isdigit()]
    assert ticks == ["0", "2000", "4000", "6000"]


@pytest.mark.parametrize(
    ("peak", "expected"),
    [(0, (1, 1)), (1, (1, 1)), (3, (1, 3)), (5, (2, 6)), (40, (10, 40)), (163800, (50000, 200000))],
)
def test_nice_scale(peak: int, expected: tuple[int, int]) -> None:
    assert charts.nice_scale(peak) == expected


def test_many_departments_fold_into_one_bar() -> None:
    rows = [DepartmentRow(f"D{i:02d}", 1, 1, 0, 0, 1000 - i, 0) for i in range(30)]
    bars = department_bars(rows)
    assert len(bars) == 20
    assert bars[-1] == charts.Bar(
        "11 other departments", sum(1000 - i for i in range(19, 30)), muted=True
    )
    svg = str(charts.bar_chart(bars, title="t", text=usd))
    assert svg.count(f"fill='{charts.BAR_COLOR}'") == 19
    assert svg.count(f"fill='{charts.MUTED_BAR_COLOR}'") == 1
    assert len(department_bars(rows[:20])) == 20


def test_finance_page_figures_tables_and_charts() -> None:
    page = finance_html(view_of(COSTED), environment())
    assert figures(page) == {
        "dormant_accounts": "4",
        "dormant_phones": "1",
        "annual_avoidable_usd": "988.40",
        "accrued_avoidable_usd": "287.43",
        "realized_savings_usd": "123.45",
    }
    parsed = Elements(page)
    assert len(parsed.all("rect", **{"class": "bar"})) == 3  # Finance, Legal, (unassigned)
    assert len(parsed.all("polyline", **{"class": "line"})) == 2
    assert "USD 988.40" in page and "1 dormant resource is not on the rate card" in page
    assert "BRAKED" not in page
    cells = [a for a in parsed.all("td") if "data-value" in a]
    assert sum(int(str(a["data-value"]).replace(".", "")) for a in cells) == 98840 + 28743
    assert_self_contained(page)


def test_finance_page_escapes_text_from_data() -> None:
    frame = costed(finding("license:a:e3", HOSTILE, "a@x.org", accrued=1, days=1))
    page = finance_html(view_of(frame), environment())
    assert "<img" not in page
    assert page.count("&lt;img src=x onerror=alert(1)&gt;") >= 3  # chart label, tooltip, table
    assert_self_contained(page)


def test_braked_page_says_so_first_in_large_letters() -> None:
    page = finance_html(view_of(COSTED, braked_reason="dormant share 61% > 25%"), environment())
    parsed = Elements(page)
    assert parsed.all("section", **{"class": "braked"})
    assert page.index("BRAKED") < page.index("<h1>")
    assert "dormant share 61% &gt; 25%" in page
    assert re.search(r"\.braked strong \{[^}]*font-size: (\d+)px", page)
    assert "<title>BRAKED: " in page


def test_period_page_lists_each_date() -> None:
    point = RunPoint(date(2019, 6, 30), 2, 10, 5, 9, 1, 0, 123456, 789)
    trend = [PeriodPoint(date(2019, 6, 30), point), PeriodPoint(date(2019, 7, 31), point)]
    view = view_of(COSTED, trend=trend, period=(date(2019, 6, 1), date(2019, 7, 31)))
    page = finance_html(view, environment())
    assert "Period 2019-06-01 to 2019-07-31" in page
    rows = [a for a in Elements(page).all("table") if a.get("id") == "period"]
    assert rows and page.count("<td>2019-06-30</td>") == 3  # two "as of" cells and one date


def test_an_organizations_own_template_wins(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "finance.html.j2").write_text(
        "<p>{{ view.title }} {{ figures[2].text }} {{ departments[0].department }}</p>",
        encoding="utf-8",
    )
    frame = costed(finding("license:a:e3", "<R&D>", "a@x.org"))
    page = finance_html(view_of(frame), environment(tmp_path))
    assert page == (
        "<p>Avoidable cost of dormant accounts and phones USD 189.60 &lt;R&amp;D&gt;</p>"
    )


def test_a_broken_template_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "finance.html.j2").write_text("{{ nope.x }}", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"reports/finance\.html\.j2"):
        finance_html(view_of(COSTED), environment(tmp_path))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("R&D | <b>*x*</b>", r"R&amp;D \| &lt;b&gt;\*x\*&lt;/b&gt;"),
        ("line\nbreak", "line break"),
        ("[link](http://x)", r"\[link\]\(http://x\)"),
    ],
)
def test_markdown_escaping(value: str, expected: str) -> None:
    assert md(value) == expected


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [(1, 9, "11.1%"), (1, 8, "12.5%"), (0, 0, "0.0%"), (2, 3, "66.7%"), (3, 3, "100.0%")],
)
def test_percent(part: int, whole: int, expected: str) -> None:
    assert percent(part, whole) == expected
