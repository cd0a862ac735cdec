"""Single-file HTML pages: the finance summary and the steering committee's risk report.

Each page is self-contained (inline CSS, inline SVG charts, no script, no
font, image or style sheet to fetch) so it works offline and as an email
attachment; a Content-Security-Policy forbids loading anything even if a
template someone customised tried to. Data reaches the page through
autoescaped Jinja2 templates and escaped chart labels. Headline figures carry
their exact value in ``data-value`` attributes, for checks and scrapers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import jinja2
import pandas as pd
from markupsafe import Markup

from licensewatch import model
from licensewatch.reports import charts
from licensewatch.reports.finance_view import DepartmentRow, FinanceView
from licensewatch.reports.history import PeriodPoint
from licensewatch.reports.render import count, render, usd
from licensewatch.reports.risk import RiskView
from licensewatch.reports.seats import renewals_csv_table, seats_csv_table

#: Departments drawn as their own bar; the rest share one "other departments" bar.
MAX_BARS: Final = 20


def department_bars(rows: Sequence[DepartmentRow], most: int = MAX_BARS) -> list[charts.Bar]:
    """Annual avoidable cost per department, costliest first; the tail summed into one bar."""
    bars = [charts.Bar(r.department, r.annual_avoidable_cents) for r in rows]
    if len(bars) <= most:
        return bars
    rest = bars[most - 1 :]
    other = charts.Bar(f"{len(rest)} other departments", sum(b.value for b in rest), muted=True)
    return [*bars[: most - 1], other]


def trend_svg(trend: Sequence[PeriodPoint], series: Sequence[str], title: str) -> Markup:
    """The trend chart of ``series`` (names of :class:`RunPoint` figures) over ``trend``."""
    known = {
        "dormant_accounts": ("Dormant accounts", count),
        "separated_accounts": ("Separated staff still holding access", count),
        "phone_findings": ("Dormant phones", count),
        "annual_avoidable_cents": ("Annual avoidable cost (USD)", usd),
    }
    lines = [
        charts.Series(known[name][0], [getattr(p.point, name) for p in trend], known[name][1])
        for name in series
    ]
    labels = [p.day.isoformat() for p in trend]
    return charts.trend_chart(labels, lines, title=title, days=[p.day for p in trend])


def _day(value: object) -> str:
    return f"{value:%Y-%m-%d}" if isinstance(value, pd.Timestamp) and not pd.isna(value) else ""


def _figure(key: str, label: str, value: int, money: bool, note: str = "") -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        "value": model.money(value) if money else str(value),
        "text": f"USD {usd(value)}" if money else count(value),
        "note": note,
    }


def finance_context(view: FinanceView) -> dict[str, Any]:
    """What the finance page template receives."""
    t = view.totals
    figures = [
        _figure("dormant_accounts", "Dormant accounts", t.dormant_accounts, False,
                f"holding {count(t.license_findings)} licences"),
        _figure("dormant_phones", "Dormant phones", t.phone_findings, False),
        _figure("annual_avoidable_usd", "Annual avoidable cost", t.annual_avoidable_cents, True,
                "a year, at the rates in force"),
        _figure("accrued_avoidable_usd", "Accrued avoidable cost", t.accrued_avoidable_cents,
                True, "since each became dormant"),
        _figure("realized_savings_usd", "Realized savings to date", view.realized_savings_cents,
                True, "from removed licences and phones"),
    ]  # fmt: skip
    rates = [
        {
            "item": r["item"],
            "description": r["description"] if isinstance(r["description"], str) else "",
            "resource_kind": r["resource_kind"],
            "annual_rate": usd(int(r["annual_rate_cents"])),
            "effective_from": _day(r["effective_from"]),
            "effective_to": _day(r["effective_to"]),
        }
        for r in view.rate_card.to_dict("records")
    ]
    return {
        "view": view,
        "totals": t,
        "figures": figures,
        "departments": view.departments,
        "rates": rates,
        "bar_chart": charts.bar_chart(
            department_bars(view.departments),
            title="Annual avoidable cost by department (USD)",
            text=usd,
        ),
        "trend_chart": trend_svg(
            view.trend,
            ("dormant_accounts", "annual_avoidable_cents"),
            "Dormant accounts and annual avoidable cost across runs",
        ),
        "trend": view.trend,
        **seats_context(view),
        "figures_detail": view.figures,
    }


def seats_context(view: FinanceView) -> dict[str, Any]:
    """The "Seats and renewals" section: seats.csv and renewals.csv rows, and their totals."""
    if view.seats is None:
        return {"seats": None}
    return {
        "seats": seats_csv_table(view.seats.seats).to_dict("records"),
        "seat_totals": view.seats.totals(),
        "renewals": renewals_csv_table(view.seats.renewals).to_dict("records"),
    }


def finance_html(view: FinanceView, env: jinja2.Environment) -> str:
    """The finance page of ``view`` (template ``reports/finance.html.j2``)."""
    return render(env, "finance.html.j2", finance_context(view))


def risk_context(view: RiskView) -> dict[str, Any]:
    """What the risk templates (HTML and Markdown) receive."""
    return {
        "view": view,
        "ageing_chart": charts.bar_chart(
            [charts.Bar(b.label, b.people) for b in view.ageing],
            title="Separated staff still holding access, by days since separation",
            text=count,
        ),
        "reason_chart": charts.bar_chart(
            [charts.Bar(r.code, r.findings) for r in view.reasons if r.findings],
            title="Dormant resources by reason",
            text=count,
        ),
        "trend_chart": trend_svg(
            view.trend,
            ("dormant_accounts", "separated_accounts"),
            "Dormant accounts and separated staff still holding access",
        ),
    }


def risk_html(view: RiskView, env: jinja2.Environment) -> str:
    """The risk page of ``view`` (template ``reports/risk.html.j2``)."""
    return render(env, "risk.html.j2", risk_context(view))


def risk_markdown(view: RiskView, env: jinja2.Environment) -> str:
    """The risk report of ``view`` as Markdown (template ``reports/risk.md.j2``)."""
    return render(env, "risk.md.j2", risk_context(view))
