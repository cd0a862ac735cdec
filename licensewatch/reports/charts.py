"""Inline SVG charts: horizontal bars and trend lines, drawn as plain markup.

The reports are single files that must render offline and inside an email,
so the charts are SVG elements written into the page (no script, no fonts, no
images to fetch). Every label that comes from data is escaped. Pure: values
in, markup out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Final

from markupsafe import Markup

BAR_COLOR: Final = "#2b6cb0"
#: A bar standing for many items (e.g. "12 other departments"), so it does not read as one.
MUTED_BAR_COLOR: Final = "#a0aec0"
LINE_COLORS: Final = ("#2b6cb0", "#c05621", "#2f855a")
TEXT_COLOR: Final = "#1a202c"
GRID_COLOR: Final = "#e2e8f0"
FONT: Final = "font-family='Arial, Helvetica, sans-serif' font-size='12'"
#: Longest label shown beside a bar; the full text is in the bar's tooltip.
LABEL_CHARS: Final = 28
#: Trend points get a marker only when there are few enough to tell apart.
MAX_MARKERS: Final = 60


@dataclass(frozen=True)
class Bar:
    """One bar: its label and its value (a count, or money in cents); muted for a remainder."""

    label: str
    value: int
    muted: bool = False


@dataclass(frozen=True)
class Series:
    """One trend line: its name, one value per x label, and how to print a value."""

    name: str
    values: Sequence[int]
    text: Callable[[int], str]


def _attr(value: str) -> str:
    return escape(value, quote=True)


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def _svg(width: int, height: int, title: str, body: Sequence[str], css_class: str) -> Markup:
    head = (
        f"<svg xmlns='http://www.w3.org/2000/svg' class='{css_class}' width='{width}' "
        f"height='{height}' viewBox='0 0 {width} {height}' role='img' "
        f"aria-label='{_attr(title)}'><title>{escape(title)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every data string is escaped


def _empty(width: int, title: str, message: str, css_class: str) -> Markup:
    text = f"<text x='{width // 2}' y='30' text-anchor='middle' {FONT} fill='{TEXT_COLOR}'>"
    return _svg(width, 50, title, [text + escape(message) + "</text>"], css_class)


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    text: Callable[[int], str],
    width: int = 760,
    bar_height: int = 22,
    gap: int = 8,
) -> Markup:
    """Horizontal bars, one per item in ``bars``, longest for the largest value.

    Each bar is a ``<rect class='bar'>`` (zero-width for a zero value) with its
    label on the left and ``text(value)`` on its right. Negative values are
    drawn as zero.
    """
    if not bars:
        return _empty(width, title, "Nothing to show", "chart bar-chart")
    label_w, value_w = 200, 110
    plot_w = width - label_w - value_w
    top = max(max(b.value for b in bars), 1)
    height = len(bars) * (bar_height + gap) + gap
    body: list[str] = []
    for i, bar in enumerate(bars):
        y = gap + i * (bar_height + gap)
        w = plot_w * max(bar.value, 0) / top
        mid = y + bar_height / 2 + 4
        body.append(
            f"<text x='{label_w - 8}' y='{mid:.1f}' text-anchor='end' {FONT} "
            f"fill='{TEXT_COLOR}'>{escape(_short(bar.label))}</text>"
            f"<rect class='bar' x='{label_w}' y='{y}' width='{w:.1f}' height='{bar_height}' "
            f"fill='{MUTED_BAR_COLOR if bar.muted else BAR_COLOR}' "
            f"data-label='{_attr(bar.label)}' data-value='{bar.value}'>"
            f"<title>{escape(bar.label)}: {escape(text(bar.value))}</title></rect>"
            f"<text x='{label_w + w + 6:.1f}' y='{mid:.1f}' {FONT} "
            f"fill='{TEXT_COLOR}'>{escape(text(bar.value))}</text>"
        )
    return _svg(width, height, title, body, "chart bar-chart")


def _tick_positions(count: int, most: int = 8) -> list[int]:
    """Indexes of the x labels to print: first, last and evenly spaced ones between."""
    if count <= most:
        return list(range(count))
    step = (count - 1) / (most - 1)
    return sorted({round(i * step) for i in range(most)})


def nice_scale(peak: int, ticks: int = 4) -> tuple[int, int]:
    """A whole 1-2-5 step giving about ``ticks`` gridlines up to ``peak``, and the axis top.

    Whole steps keep a count axis from labelling 3.75 accounts as "4".
    """
    if peak <= 0:
        return 1, 1
    raw = peak / ticks
    magnitude = 10 ** max(math.floor(math.log10(raw)), 0)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return step, step * math.ceil(peak / step)


def time_positions(days: Sequence[date]) -> list[float]:
    """Where each day sits on a time axis, 0 (first) to 1 (last): runs weeks apart stay apart."""
    if len(days) < 2 or days[-1] == days[0] or list(days) != sorted(days):
        return [0.5 if len(days) == 1 else i / max(len(days) - 1, 1) for i in range(len(days))]
    span = (days[-1] - days[0]).days
    return [(d - days[0]).days / span for d in days]


def _panel(
    series: Series,
    color: str,
    labels: Sequence[str],
    top_y: int,
    width: int,
    height: int,
    positions: Sequence[float] | None = None,
) -> list[str]:
    left, right = 90, 50
    plot_w, plot_h = width - left - right, height - 50
    base = top_y + 24 + plot_h
    step, peak = nice_scale(max(series.values, default=0))
    body = [
        f"<text x='{left}' y='{top_y + 14}' {FONT} font-weight='bold' "
        f"fill='{TEXT_COLOR}'>{escape(series.name)}</text>"
    ]
    for value in range(0, peak + 1, step):
        y = base - plot_h * value / peak
        body.append(
            f"<line x1='{left}' y1='{y:.1f}' x2='{width - right}' y2='{y:.1f}' "
            f"stroke='{GRID_COLOR}'/><text x='{left - 6}' y='{y + 4:.1f}' text-anchor='end' "
            f"{FONT} fill='{TEXT_COLOR}'>{escape(series.text(value))}</text>"
        )
    n = len(series.values)
    if positions is not None:
        xs = [left + plot_w * p for p in positions]
    else:
        xs = [left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2) for i in range(n)]
    ys = [base - plot_h * max(v, 0) / peak for v in series.values]
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    body.append(
        f"<polyline class='line' points='{coords}' fill='none' stroke='{color}' "
        f"stroke-width='2.5' data-series='{_attr(series.name)}'/>"
    )
    if n <= MAX_MARKERS:
        for x, y, label, value in zip(xs, ys, labels, series.values, strict=True):
            body.append(
                f"<circle class='point' cx='{x:.1f}' cy='{y:.1f}' r='3.5' fill='{color}'>"
                f"<title>{escape(label)}: {escape(series.text(value))}</title></circle>"
            )
    for i in _tick_positions(n):
        body.append(
            f"<text x='{xs[i]:.1f}' y='{base + 16}' text-anchor='middle' {FONT} "
            f"fill='{TEXT_COLOR}'>{escape(labels[i])}</text>"
        )
    return body


def trend_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    width: int = 760,
    panel_height: int = 190,
    days: Sequence[date] | None = None,
) -> Markup:
    """One line panel per series, stacked, sharing the x labels (one value per label).

    With ``days`` (one per label, ascending) the x axis is time: points sit at
    their dates (:func:`time_positions`), not evenly spaced.

    Each line is a ``<polyline class='line'>``; with at most
    :data:`MAX_MARKERS` points each point is also a ``<circle class='point'>``.
    """
    if any(len(s.values) != len(labels) for s in series):
        raise ValueError("every series needs one value per label")
    if not labels or not series:
        return _empty(width, title, "No runs to show yet", "chart trend-chart")
    if days is not None and len(days) != len(labels):
        raise ValueError("every label needs its day")
    positions = None if days is None else time_positions(days)
    body: list[str] = []
    for k, one in enumerate(series):
        color = LINE_COLORS[k % len(LINE_COLORS)]
        body.extend(_panel(one, color, labels, k * panel_height, width, panel_height, positions))
    return _svg(width, panel_height * len(series), title, body, "chart trend-chart")
