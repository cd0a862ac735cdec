"""The demo's seats: over-bought SKUs, one renewal in the horizon, licences from groups;
the finance page, the workbook and ``report finance`` show them, equal to seats.csv."""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd

from licensewatch.cli.parser import main
from licensewatch.demo import generate
from licensewatch.reports.seats import read_seat_report, renewals_csv_table, seats_csv_table

AS_OF = "2019-12-31"


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_demo_seats_from_run_to_report(tmp_path: Path) -> None:
    org = generate(
        tmp_path / "demo", accounts=600, departments=6, seed=11, as_of=date(2019, 12, 31)
    )
    assert main(["run", "--config", str(org.config_path), "--as-of", AS_OF]) == 0
    reports = org.root / "reports" / AS_OF
    seats = {r["sku_part_number"]: r for r in _csv(reports / "seats.csv")}
    assert all(int(r["unassigned"]) > 0 for r in seats.values())  # every SKU over-bought
    renewals = _csv(reports / "renewals.csv")
    assert [(r["sku_part_number"], r["days_to_renewal"]) for r in renewals] == [("SPE_E3", "75")]
    e3 = seats["SPE_E3"]
    cut = int(e3["unassigned"]) + int(e3["approved_removal"]) + int(e3["dormant"])
    assert renewals[0]["seats_to_cut"] == str(cut)
    assert Decimal(renewals[0]["annual_saving_usd"]) == cut * Decimal(e3["annual_rate_usd"])
    findings = [r for r in _csv(reports / "findings.csv") if r["resource_kind"] == "license"]
    from_groups = sum(r["via_group"] == "LIC-M365-E3-Staff" for r in findings)
    assert 0.4 * len(findings) < from_groups < 0.8 * len(findings)
    assert {r["error"] for r in _csv(reports / "seat_errors.csv")} == {"CountViolation"}
    summary = json.loads((reports / "run_summary.json").read_text(encoding="utf-8"))["seats"]
    unassigned = sum(Decimal(r["unassigned_annual_usd"] or "0") for r in seats.values())
    assert Decimal(summary["unassigned_annual_usd"]) == unassigned  # to the cent

    html = (reports / "finance_summary.html").read_text(encoding="utf-8")
    assert "<h2>Seats and renewals</h2>" in html and e3["unassigned_annual_usd"] in html
    sheet = openpyxl.load_workbook(reports / "finance_summary.xlsx")["Seats and renewals"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:3] == ("sku_id", "sku_part_number", "item")
    e3_row = next(v for v in values if v[1] == "SPE_E3")
    assert Decimal(str(e3_row[9])) == Decimal(e3["unassigned_annual_usd"])

    # What the run wrote reads back to the same rows; report finance shows it.
    back = read_seat_report(reports)
    assert back is not None
    written = pd.read_csv(reports / "seats.csv", dtype=str, keep_default_na=False)
    assert seats_csv_table(back.seats).values.tolist() == written.values.tolist()
    assert renewals_csv_table(back.renewals)["seats_to_cut"].tolist() == [str(cut)]
    out = tmp_path / "out"
    assert main(["report", "finance", "--config", str(org.config_path), "--format", "html",
                 "--out", str(out)]) == 0  # fmt: skip
    (page,) = out.glob("*.html")
    assert "<h2>Seats and renewals</h2>" in page.read_text(encoding="utf-8")
