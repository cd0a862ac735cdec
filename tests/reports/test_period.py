"""`licensewatch report finance`: month-end views of a period, from the stored run history."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from sqlalchemy.orm import Session

from licensewatch import model, store
from licensewatch.cli.reports import ReportError, report_finance
from licensewatch.config import Settings, load_settings
from licensewatch.reports.history import (
    RunPoint,
    month_ends,
    period_points,
    realized_savings_of,
)
from licensewatch.store.history import REMOVED_STATE
from tests import orgfiles
from tests.reports.test_html import Elements, assert_self_contained, figures


def _point(day: str, run_id: int, accounts: int = 1) -> RunPoint:
    return RunPoint(date.fromisoformat(day), run_id, accounts, 0, accounts, 0, 0, 100 * accounts, 0)


def test_month_ends() -> None:
    assert month_ends(date(2019, 1, 15), date(2019, 4, 30)) == [
        date(2019, 1, 31), date(2019, 2, 28), date(2019, 3, 31), date(2019, 4, 30),
    ]  # fmt: skip
    assert month_ends(date(2019, 12, 1), date(2020, 3, 30)) == [
        date(2019, 12, 31), date(2020, 1, 31), date(2020, 2, 29),
    ]  # fmt: skip
    assert month_ends(date(2019, 5, 2), date(2019, 5, 30)) == []


def test_period_points_take_the_last_run_on_or_before_each_month_end() -> None:
    points = [
        _point("2019-01-10", 1),
        _point("2019-01-31", 2),
        _point("2019-01-31", 5, accounts=7),  # a re-run of the day: the later run wins
        _point("2019-02-27", 3),
        _point("2019-04-02", 4),
    ]
    chosen = period_points(points, date(2018, 12, 1), date(2019, 4, 15))
    assert [(p.day.isoformat(), p.point.run_id) for p in chosen] == [
        # 2018-12-31 has no run on or before it: left out.
        ("2019-01-31", 5),
        ("2019-02-28", 3),
        ("2019-03-31", 3),  # no run in March: the February figures still stand
        ("2019-04-15", 4),  # the period's last day, not a month end
    ]
    assert chosen[0].point.dormant_accounts == 7
    assert period_points(points, date(2018, 1, 1), date(2018, 12, 31)) == []


def test_realized_savings_pro_rata_since_removal() -> None:
    removed = pd.DataFrame(
        {
            "resource_id": ["license:a:e3", "phone:b", "phone:c", "license:d:e3"],
            "department": ["Finance"] * 4,
            "removed_at": pd.to_datetime(
                ["2019-07-04T10:00:00Z", "2019-12-31T23:00:00Z", "2020-02-01T00:00:00Z", None],
                utc=True,
            ),
            "annual_cost_cents": [18960, 23000, 23000, 18960],
        }
    ).astype(REMOVED_STATE)
    # 180 days of 189.60 a year = 93.50 (half up); removed on the day: nothing yet; after: nothing.
    assert realized_savings_of(removed, date(2019, 12, 31)) == 9350
    assert realized_savings_of(removed.iloc[0:0], date(2019, 12, 31)) == 0


# --- The audit's history, stored run by run -----------------------------------------------

#: Dormant accounts (each with an E3 licence and a desk phone) at each stored run.
AUDIT_RUNS = {
    date(2018, 12, 31): 1869,
    date(2019, 6, 30): 3000,
    date(2019, 12, 15): 5000,
    date(2019, 12, 31): 5441,
}
E3, PHONE = 18960, 23000


def _findings(n: int, as_of: date) -> pd.DataFrame:
    i = np.arange(n)
    ids = pd.Series([f"a{k:05d}" for k in i], dtype=model.STRING)
    since = pd.Timestamp("2018-06-30", tz="UTC") + pd.to_timedelta(i % 180, unit="D")
    days = (pd.Timestamp(as_of, tz="UTC") - since).days.to_numpy().astype("int64")
    departments = pd.Series([f"Department {k % 7}" for k in i], dtype=model.STRING)

    def kind(prefix: str, resource: str, rate: int, item: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "resource_id": prefix + ids,
                "resource_kind": resource,
                "subject": ids + "@un.example",
                "account_id": ids,
                "owner_upn": ids + "@un.example",
                "display_name": "Person " + ids,
                "department": departments,
                "reasons": "INACTIVE" if resource == "license" else "PHONE_OWNER_DORMANT",
                "dormant_since": since,
                "days_dormant": days,
                "match_key": "SPE_E3" if resource == "license" else "Cisco 8845",
                "item": item,
                "annual_rate_cents": rate,
                "annual_cost_cents": rate,
                "accrued_cost_cents": (2 * rate * days + 365) // 730,
                "priced": True,
            }
        )

    frame = pd.concat(
        [
            kind("license:", "license", E3, "M365_E3"),
            kind("phone:sep", "phone", PHONE, "IP_PHONE_PC_PORT"),
        ],
        ignore_index=True,
    )
    out = model.conform(frame, model.COSTED_FINDINGS)
    return out.assign(status=pd.Series("notified", index=out.index, dtype=model.STRING))


def _store_run(session: Session, as_of: date, findings: pd.DataFrame, status: str) -> None:
    at = datetime(as_of.year, as_of.month, as_of.day, 2, tzinfo=UTC)
    run_id = store.start_run(session, as_of=as_of, started_at=at, dry_run=False)
    store.save_findings(session, run_id, findings)
    store.finish_run(session, run_id, status=status, finished_at=at, counts={},
                     annual_avoidable_cents=0, accrued_avoidable_cents=0,
                     findings_count=len(findings))  # fmt: skip


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The tiny organization's config over a database holding the audit's history."""
    settings = load_settings(orgfiles.write_org(tmp_path_factory.mktemp("audit") / "org"))
    engine = store.open_engine(settings.database_url)
    try:
        store.upgrade(engine)
        with Session(engine) as session:
            for day, n in AUDIT_RUNS.items():
                _store_run(session, day, _findings(n, day), "ok")
            # Braked and failed runs are never report figures.
            _store_run(session, date(2019, 12, 31), _findings(60, date(2019, 12, 31)), "braked")
            _store_run(session, date(2019, 11, 30), _findings(10, date(2019, 11, 30)), "failed")
            session.commit()
    finally:
        engine.dispose()
    return settings


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_period_csv_has_the_summary_at_each_month_end(audit: Settings, tmp_path: Path) -> None:
    path = report_finance(
        audit, date_from=date(2018, 12, 1), date_to=date(2019, 12, 31), fmt="csv", out=tmp_path
    )
    assert path == tmp_path / "finance_2018-12-01_2019-12-31.csv"
    rows = _read_csv(path)
    by_day: dict[str, dict[str, object]] = defaultdict(lambda: {"n": 0, "annual": Decimal(0)})
    for row in rows:
        day = by_day[row["date"]]
        day["as_of"] = row["figures_as_of"]
        if row["resource_kind"] == "license":
            day["n"] = int(str(day["n"])) + int(row["dormant_count"])
        day["annual"] = Decimal(str(day["annual"])) + Decimal(row["annual_avoidable_usd"])
    assert [d.isoformat() for d in month_ends(date(2018, 12, 1), date(2019, 12, 31))] == list(
        by_day
    )
    assert by_day["2018-12-31"] == {
        "n": 1869,
        "annual": Decimal("784232.40"),
        "as_of": "2018-12-31",
    }
    assert by_day["2019-05-31"]["as_of"] == "2018-12-31"
    assert by_day["2019-11-30"] == {
        "n": 3000,
        "annual": Decimal("1258800.00"),
        "as_of": "2019-06-30",
    }
    # The audit's year end: 5,441 accounts; USD 1.03 million of licences, 1.25 million of phones.
    year_end = by_day["2019-12-31"]
    assert year_end["n"] == 5441 and year_end["as_of"] == "2019-12-31"
    assert year_end["annual"] == Decimal("1031613.60") + Decimal("1251430.00")


def test_period_workbook_and_page(audit: Settings, tmp_path: Path) -> None:
    xlsx = report_finance(audit, date_from=date(2018, 12, 1), date_to=None, fmt="xlsx",
                          out=tmp_path / "finance.xlsx")  # fmt: skip
    assert xlsx == tmp_path / "finance.xlsx"
    wb = openpyxl.load_workbook(io.BytesIO(xlsx.read_bytes()), read_only=True)
    overview = {r[0]: r[1] for r in wb["Overview"].iter_rows(values_only=True) if len(r) > 1}
    assert overview["Period from"] == datetime(2018, 12, 1)
    assert overview["Period to"] == datetime(2019, 12, 31)
    assert overview["Dormant accounts"] == 5441 and overview["Dormant phones"] == 5441
    assert Decimal(str(overview["Annual avoidable cost (USD)"])) == Decimal("2283043.6")
    trend = list(wb["Trend"].iter_rows(values_only=True))[1:]
    assert [r[2] for r in trend] == [1869] * 6 + [3000] * 6 + [5441]
    page_path = report_finance(audit, date_from=None, date_to=None, fmt="html", out=tmp_path)
    assert page_path.name == "finance_2018-12-31_2019-12-31.html"
    page = page_path.read_text(encoding="utf-8")
    assert figures(page)["annual_avoidable_usd"] == "2283043.60"
    assert figures(page)["dormant_accounts"] == "5441"
    parsed = Elements(page)
    assert len(parsed.all("rect", **{"class": "bar"})) == 7  # seven departments
    assert len(parsed.all("circle", **{"class": "point"})) == 2 * 13
    assert_self_contained(page)


def test_an_earlier_period_ignores_later_runs(audit: Settings, tmp_path: Path) -> None:
    path = report_finance(audit, date_from=date(2019, 1, 1), date_to=date(2019, 12, 20),
                          fmt="csv", out=tmp_path / "out.csv")  # fmt: skip
    days = [r["date"] for r in _read_csv(path)]
    assert days[-1] == "2019-12-20"
    last = [r for r in _read_csv(path) if r["date"] == "2019-12-20"]
    assert {r["figures_as_of"] for r in last} == {"2019-12-15"}
    assert sum(int(r["dormant_count"]) for r in last) == 2 * 5000


def test_report_errors(audit: Settings, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="after --to"):
        report_finance(audit, date_from=date(2019, 6, 1), date_to=date(2019, 1, 1), fmt="csv",
                       out=tmp_path)  # fmt: skip
    with pytest.raises(ReportError, match="no finished \\(ok\\) run on or before 2018-12-30"):
        report_finance(audit, date_from=None, date_to=date(2018, 12, 30), fmt="csv", out=tmp_path)
    with pytest.raises(ReportError, match=r"after the last run \(2019-12-31\)"):
        report_finance(audit, date_from=date(2020, 6, 1), date_to=None, fmt="csv", out=tmp_path)
    with pytest.raises(ValueError, match="format"):
        report_finance(audit, date_from=None, date_to=None, fmt="pdf", out=tmp_path)


def test_no_database_is_an_error_and_creates_none(tmp_path: Path) -> None:
    settings = load_settings(orgfiles.write_org(tmp_path / "org"))
    with pytest.raises(ReportError, match="no database at"):
        report_finance(settings, date_from=None, date_to=None, fmt="csv", out=tmp_path)
    assert not (tmp_path / "org" / "licensewatch.db").exists()
