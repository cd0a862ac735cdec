"""finance_summary.csv and totals: exact rows, and sums that reconcile to the cent."""

from __future__ import annotations

import csv
import logging
import random
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from licensewatch import model
from licensewatch.reports.csvsafe import write_csv
from licensewatch.reports.finance import SUMMARY_COLUMNS, finance_summary, totals
from licensewatch.reports.findings import findings_table
from tests.reports.costed import costed, finding
from tests.reports.test_findings import COSTED


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_finance_summary_exact_rows() -> None:
    summary = finance_summary(COSTED)
    assert tuple(summary.columns) == SUMMARY_COLUMNS
    assert [tuple(r) for r in summary.astype(str).itertuples(index=False)] == [
        ("(unassigned)", "license", "M365_E3", "1", "189.60", "189.60", "123.45"),
        ("Finance", "license", "M365_E3", "1", "189.60", "189.60", "110.64"),
        ("Finance", "license", "(unpriced)", "1", "", "0.00", "0.00"),
        ("Finance", "phone", "IP_PHONE", "1", "230.00", "230.00", "50.00"),
        ("Legal", "license", "M365_E3", "2", "189.60", "379.20", "3.34"),
    ]


def test_totals() -> None:
    t = totals(COSTED)
    assert (t.dormant_accounts, t.license_findings, t.phone_findings, t.unpriced_findings) == (
        4,
        5,
        1,
        1,
    )
    assert t.annual_avoidable_cents == 4 * 18960 + 23000
    assert t.accrued_avoidable_cents == 12345 + 11064 + 5000 + 333 + 1
    assert dict(t.by_reason) == {
        "SEPARATED": 1,
        "INACTIVE": 4,
        "NEVER_SIGNED_IN": 0,
        "DISABLED_LICENSED": 1,
        "PHONE_UNREGISTERED": 0,
        "PHONE_OWNER_DORMANT": 1,
        "PHONE_NO_OWNER": 0,
    }


def test_totals_and_summary_of_no_findings() -> None:
    t = totals(costed())
    assert (t.dormant_accounts, t.annual_avoidable_cents, sum(t.by_reason.values())) == (0, 0, 0)
    assert tuple(finance_summary(costed()).columns) == SUMMARY_COLUMNS


def _many_findings(n: int, seed: int) -> pd.DataFrame:
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        kind = rnd.choice(["license", "phone"])
        item = rnd.choice(["M365_E3", "E5", None]) if kind == "license" else "IP_PHONE"
        rows.append(
            finding(
                f"{kind}:{i}",
                rnd.choice(["Finance", "Legal", "HR", model.UNASSIGNED]),
                f"user{i}@x.org",
                kind=kind,
                item=item,
                rate={"M365_E3": 18960, "E5": 41333, "IP_PHONE": 23000, None: 0}[item],
                accrued=rnd.randrange(0, 10**7),
            )
        )
    return costed(*rows)


def test_summary_reconciles_with_findings_to_the_cent(tmp_path: Path) -> None:
    frame = _many_findings(400, seed=7)
    write_csv(findings_table(frame), tmp_path / "findings.csv")
    write_csv(finance_summary(frame), tmp_path / "finance_summary.csv")
    findings = read_csv(tmp_path / "findings.csv")
    summary = read_csv(tmp_path / "finance_summary.csv")
    t = totals(frame)
    for detail, total, cents in (
        ("annual_cost_usd", "annual_avoidable_usd", t.annual_avoidable_cents),
        ("accrued_cost_usd", "accrued_avoidable_usd", t.accrued_avoidable_cents),
    ):
        by_detail = sum(Decimal(r[detail]) for r in findings)
        by_summary = sum(Decimal(r[total]) for r in summary)
        assert by_detail == by_summary == Decimal(cents) / 100
    assert sum(int(r["dormant_count"]) for r in summary) == len(findings) == 400


def test_mixed_rates_show_the_highest_and_warn(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI's logging set-up stops propagation; caplog listens at the root.
    monkeypatch.setattr(logging.getLogger("licensewatch"), "propagate", True)
    frame = costed(
        finding("license:a", "Finance", "a@x.org", rate=18960),
        finding("license:b", "Finance", "b@x.org", rate=20000),
    )
    with caplog.at_level(logging.WARNING, logger="licensewatch"):
        summary = finance_summary(frame)
    assert summary[["annual_rate_usd", "annual_avoidable_usd"]].values.tolist() == [
        ["200.00", "389.60"]
    ]
    assert "different rates" in caplog.text
