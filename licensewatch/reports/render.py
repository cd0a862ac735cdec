"""Templates, number formats and atomic file writes shared by the HTML and Markdown reports.

Report templates live under ``reports/`` in the templates folder, found the
way email templates are (:func:`licensewatch.notify.compose.environment`):
the config's own folder first, the bundled one second. ``.html.j2`` templates
are autoescaped; Markdown templates escape data with the ``md`` filter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import jinja2

from licensewatch import model
from licensewatch.atomic import write_bytes_atomic
from licensewatch.errors import ConfigError
from licensewatch.notify.compose import environment as base_environment

# Characters Markdown (and the HTML a Markdown renderer lets through) would read as syntax.
_MARKDOWN_SPECIAL: Final = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
_LINE_BREAKS: Final = re.compile(r"[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+")


def usd(cents: int) -> str:
    """Cents as dollars with thousands separators and two places: 411520 → "4,115.20"."""
    whole, frac = model.money(int(cents)).split(".")
    return f"{int(whole):,}.{frac}"


def count(value: int) -> str:
    """A whole number with thousands separators."""
    return f"{int(value):,}"


def percent(part: int, whole: int) -> str:
    """``part`` of ``whole`` as a percentage with one decimal ("12.5%"); "0.0%" of nothing."""
    if whole <= 0:
        return "0.0%"
    tenths = (2000 * part + whole) // (2 * whole)  # per mille, rounded half up
    return f"{tenths // 10}.{tenths % 10}%"


def plural(value: int, one: str, many: str) -> str:
    """``value`` with the word for one or for many: "1 licence", "2 licences"."""
    return f"{count(value)} {one if value == 1 else many}"


def md(value: object) -> str:
    """Text from data made inert in Markdown: syntax characters and HTML escaped, one line."""
    text = _LINE_BREAKS.sub(" ", "" if value is None else str(value))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


FILTERS: Final[Mapping[str, Callable[..., str]]] = {
    "usd": usd,
    "number": count,
    "money": model.money,
    "md": md,
}


def environment(templates_dir: Path | None = None) -> jinja2.Environment:
    """The Jinja2 environment of the report templates, with the report filters."""
    env = base_environment(templates_dir)
    env.filters.update(FILTERS)
    env.globals["percent"] = percent
    env.globals["plural"] = plural
    return env


def render(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    """Render ``reports/<name>``; a broken or missing template is a ``ConfigError``."""
    try:
        return env.get_template(f"reports/{name}").render(context)
    except jinja2.TemplateError as exc:
        raise ConfigError(
            f"report template reports/{name} could not be rendered: {exc}",
            hint="fix the template (see templates/reports/ for the shipped ones)",
        ) from exc


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically: temp file in the folder, then rename."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (flushed to disk before the rename)."""
    write_bytes_atomic(path, data)
