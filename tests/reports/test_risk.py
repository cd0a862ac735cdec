"""The steering committee's risk report: ageing of separated staff, silent departments, reasons."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from licensewatch.cli.reports import ReportError, report_risk
from licensewatch.reports.history import PeriodPoint, point_of
from licensewatch.reports.html import risk_html, risk_markdown
from licensewatch.reports.render import environment
from licensewatch.reports.risk import AGEING, bucket_of, risk_view, unanswered
from licensewatch.store.history import NOTIFIED_STATE, notified_state
from licensewatch.store.tables import RESOURCE_STATE
from tests.reports.conftest import History
from tests.reports.costed import AS_OF, costed, finding
from tests.reports.test_html import Elements, assert_self_contained

DAY = AS_OF.date()


@pytest.mark.parametrize(
    ("days", "label"),
    [(-3, "0–30 days"), (0, "0–30 days"), (30, "0–30 days"), (31, "31–90 days"),
     (90, "31–90 days"), (91, "91–180 days"), (180, "91–180 days"), (181, "over 180 days"),
     (4000, "over 180 days")],
)  # fmt: skip
def test_ageing_buckets(days: int, label: str) -> None:
    assert bucket_of(days) == label


def _separated(n: int, days: int, department: str = "Legal") -> list[dict[str, object]]:
    """A separated person ``days`` after separation with one licence (and one phone if n == 0)."""
    separation = (AS_OF - pd.Timedelta(days=days)).strftime("%Y-%m-%d")
    return [
        finding(f"license:p{n}:e3", department, f"p{n}@x.org", reasons="SEPARATED;INACTIVE",
                account_id=f"p{n}", separation=separation, dormant_since="2018-01-01"),
    ]  # fmt: skip


PEOPLE = [
    row
    for n, days in enumerate([0, 30, 31, 90, 91, 180, 181, 400])
    for row in _separated(n, days, "Finance" if n % 2 else "Legal")
]
FRAME = costed(
    *PEOPLE,
    finding("license:p7:pbi", "Legal", "p7@x.org", reasons="SEPARATED", account_id="p7",
            separation="2018-11-26", item=None),
    finding("phone:sep7", "Legal", "SEP7", kind="phone", reasons="PHONE_OWNER_DORMANT",
            account_id="p7", item="IP_PHONE", rate=23000),
    finding("license:q:e3", "Legal", "q@x.org", reasons="INACTIVE", account_id="q"),
    finding("phone:lobby", "Legal", "LOBBY", kind="phone",
            reasons="PHONE_UNREGISTERED;PHONE_NO_OWNER", item="IP_PHONE", rate=23000),
)  # fmt: skip


def _notified(rows: list[tuple[str, str, str, int, str | None]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(NOTIFIED_STATE))
    for column in ("last_notified_at", "first_notified_on"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.astype(NOTIFIED_STATE)


def test_separated_staff_aged_in_buckets() -> None:
    view = risk_view(FRAME, as_of=AS_OF, notified=_notified([]), trend=[])
    assert view.separated_people == 8
    assert [(b.label, b.people) for b in view.ageing] == [(label, 2) for label, _, _ in AGEING]
    over = view.ageing[-1]
    # p7 holds an E3, an unpriced licence and a phone: three resources, 189.60 + 230.00 a year.
    assert (over.licences, over.phones, over.annual_avoidable_cents) == (3, 1, 2 * 18960 + 23000)
    assert view.separated_licences == 9 and view.separated_phones == 1
    assert view.separated_annual_cents == 8 * 18960 + 23000
    assert view.estimated_separation_dates == 0
    assert [(d.department, d.people, d.oldest_days) for d in view.separated_by_department] == [
        ("Finance", 4, 400),
        ("Legal", 4, 181),
    ]


def test_without_separation_dates_days_count_from_dormant_since() -> None:
    frame = FRAME.assign(
        separation_date=pd.Series(pd.NaT, index=FRAME.index, dtype=FRAME.dtypes["separation_date"])
    )
    view = risk_view(frame, as_of=AS_OF, notified=_notified([]), trend=[])
    assert view.estimated_separation_dates == 8
    assert [b.people for b in view.ageing] == [0, 0, 0, 8]  # dormant since 2018-01-01


def test_reason_shares() -> None:
    view = risk_view(FRAME, as_of=AS_OF, notified=_notified([]), trend=[])
    shares = {r.code: (r.findings, r.share) for r in view.reasons}
    assert len(FRAME) == 12
    assert shares["SEPARATED"] == (9, "75.0%")
    assert shares["INACTIVE"] == (9, "75.0%")
    assert shares["PHONE_NO_OWNER"] == (1, "8.3%")
    assert shares["NEVER_SIGNED_IN"] == (0, "0.0%")


def test_unanswered_departments() -> None:
    notified = _notified(
        [
            # Still dormant, first shown notified on 2019-10-31, reminded on 2019-12-01.
            ("license:q:e3", "Legal", "2019-12-01T02:00:00Z", 2, "2019-10-31"),
            ("phone:lobby", "Legal", "2019-11-15T02:00:00Z", 1, None),
            # Notified, but not dormant any more in this run: answered.
            ("license:gone:e3", "HR", "2019-09-01T02:00:00Z", 1, "2019-09-01"),
            # Notified after the report's day: not yet waiting then.
            ("license:p1:e3", "Finance", "2020-01-05T02:00:00Z", 1, None),
            ("license:p3:e3", "Finance", "2019-12-30T09:00:00Z", 1, "2019-12-30"),
        ]
    )
    rows = unanswered(FRAME, notified, DAY)
    assert [(d.department, d.resources, d.first_notice, d.days_since_first_notice, d.notices)
            for d in rows] == [
        ("Legal", 2, date(2019, 10, 31), 61, 2),
        ("Finance", 1, date(2019, 12, 30), 1, 1),
    ]  # fmt: skip
    assert rows[0].annual_avoidable_cents == 18960 + 23000
    assert unanswered(FRAME, _notified([]), DAY) == ()


def test_markdown_and_html_escape_department_names() -> None:
    hostile = "<script>alert(1)</script> | R&D_*"
    frame = costed(*_separated(1, 45, hostile))
    notified = _notified([("license:p1:e3", hostile, "2019-12-01T00:00:00Z", 1, "2019-12-01")])
    point = point_of(frame, DAY, run_id=1)
    view = risk_view(frame, as_of=AS_OF, notified=notified, trend=[PeriodPoint(DAY, point)])
    env = environment()
    text = risk_markdown(view, env)
    assert "<script>" not in text
    escaped = r"&lt;script&gt;alert\(1\)&lt;/script&gt; \| R&amp;D\_\*"
    assert f"| {escaped} | 1 | 45 | 189.60 |" in text
    assert f"| {escaped} | 1 | 189.60 | 2019-12-01 | 30 | 1 |" in text
    page = risk_html(view, env)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert_self_contained(page)


def test_report_risk_from_stored_history(history: History, tmp_path: Path) -> None:
    settings = history.settings
    md_path = report_risk(settings, as_of=None, fmt="markdown", out=tmp_path)
    assert md_path == tmp_path / "risk_2019-12-31.md"
    text = md_path.read_text(encoding="utf-8")
    assert "- **Separated staff still holding access:** 1 (1 licence, 0 phones)" in text
    assert "| 31–90 days | 1 | 1 | 0 | 189.60 |" in text  # Dave: left 2019-11-30
    # Both departments were first told on 2019-10-31 and still have dormant resources.
    # Notice, reminder and overdue notice each: 3; the most overdue cost first.
    assert "| Finance | 3 | 419.60 | 2019-10-31 | 61 | 3 |" in text
    assert "| Legal | 5 | 1,028.80 | 2019-10-31 | 61 | 3 |" in text
    assert text.index("| Legal | 5 |") < text.index("| Finance | 3 |")
    assert "| 2019-11-30 | 2019-11-30 | 5 | 1 | 1,638.00 |" in text
    html_path = report_risk(settings, as_of=None, fmt="html", out=tmp_path / "risk.html")
    page = html_path.read_text(encoding="utf-8")
    parsed = Elements(page)
    assert len(parsed.all("rect", **{"class": "bar"})) == len(AGEING) + 7  # every reason occurs
    assert_self_contained(page)


def test_report_risk_reads_the_last_run_on_or_before_the_day(
    history: History, tmp_path: Path
) -> None:
    path = report_risk(history.settings, as_of=date(2019, 11, 29), fmt="markdown", out=tmp_path)
    text = path.read_text(encoding="utf-8")
    assert path.name == "risk_2019-10-31.md"
    assert "- **Separated staff still holding access:** 0 (0 licences, 0 phones)" in text
    with pytest.raises(ReportError, match="no finished \\(ok\\) run on or before 2019-01-01"):
        report_risk(history.settings, as_of=date(2019, 1, 1), fmt="html", out=tmp_path)


def test_removed_resources_are_not_waiting(session_of: Session) -> None:
    """A notified resource whose state says removed is no longer an unanswered notice."""
    before = notified_state(session_of)
    finance = before.loc[before["department"] == "Finance", "resource_id"].tolist()
    assert len(finance) == 3
    session_of.execute(
        update(RESOURCE_STATE)
        .where(RESOURCE_STATE.c.resource_id.in_(finance))
        .values(status="removed")
    )
    after = notified_state(session_of)
    assert set(after["resource_id"]) == set(before["resource_id"]) - set(finance)
    session_of.rollback()
