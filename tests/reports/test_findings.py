"""findings.csv rows: columns, formats, sort order, unpriced rows."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from licensewatch import model
from licensewatch.reports.findings import FINDINGS_COLUMNS, findings_table, money_column
from tests.reports.costed import costed, finding

COSTED = costed(
    finding("license:e:e3", "Legal", "erin@x.org", name="Erin Shah", reasons="DISABLED_LICENSED",
            accrued=1, days=30, status="new"),
    finding("license:b:e3", "Finance", "bob@x.org", name="Bob Keller", accrued=11064, days=213,
            status="notified"),
    finding("phone:sep2", "Finance", "SEP2", kind="phone", name="Bob desk", item="IP_PHONE",
            rate=23000, accrued=5000, reasons="PHONE_OWNER_DORMANT", days=100,
            dormant_since=None),
    finding("license:b:pbi", "Finance", "bob@x.org", name="Bob Keller", item=None, days=213,
            status="notified"),
    finding("license:c:e3", "Legal", "carol@x.org", name="=cmd|' /C calc'!A0",
            reasons="SEPARATED;INACTIVE", accrued=333, days=31, separation="2019-11-30"),
    finding("license:f:e3", model.UNASSIGNED, "frank@x.org", name="Frank Bauer", accrued=12345,
            days=364),
)  # fmt: skip


def test_findings_table_exact_rows() -> None:
    table = findings_table(COSTED)
    assert tuple(table.columns) == FINDINGS_COLUMNS
    assert [tuple(r) for r in table.itertuples(index=False)] == [
        ("(unassigned)", "license", "frank@x.org", "frank@x.org", "Frank Bauer", "INACTIVE",
         "2019-06-01", "364", "M365_E3", "189.60", "123.45", "new", "SPE_E3", "", ""),
        ("Finance", "license", "bob@x.org", "bob@x.org", "Bob Keller", "INACTIVE",
         "2019-06-01", "213", "M365_E3", "189.60", "110.64", "notified", "SPE_E3", "", ""),
        ("Finance", "license", "bob@x.org", "bob@x.org", "Bob Keller", "INACTIVE",
         "2019-06-01", "213", "", "0.00", "0.00", "notified", "SPE_E3", "", ""),
        ("Finance", "phone", "SEP2", "", "Bob desk", "PHONE_OWNER_DORMANT",
         "", "100", "IP_PHONE", "230.00", "50.00", "new", "", "", ""),
        ("Legal", "license", "carol@x.org", "carol@x.org", "=cmd|' /C calc'!A0",
         "SEPARATED;INACTIVE", "2019-06-01", "31", "M365_E3", "189.60", "3.33", "new",
         "SPE_E3", "", ""),
        ("Legal", "license", "erin@x.org", "erin@x.org", "Erin Shah", "DISABLED_LICENSED",
         "2019-06-01", "30", "M365_E3", "189.60", "0.01", "new", "SPE_E3", "", ""),
    ]  # fmt: skip


def test_unpriced_costs_are_zero_even_if_cents_were_left() -> None:
    frame = COSTED.copy()
    frame.loc[frame["item"].isna(), ["annual_cost_cents", "accrued_cost_cents"]] = 999
    row = findings_table(frame).query("item == '' and subject == 'bob@x.org'").iloc[0]
    assert (row["annual_cost_usd"], row["accrued_cost_usd"]) == ("0.00", "0.00")


def test_without_status_column_and_empty_frame() -> None:
    table = findings_table(COSTED.drop(columns=["status"]))
    assert set(table["status"]) == {""}
    empty = findings_table(costed())
    assert tuple(empty.columns) == FINDINGS_COLUMNS and empty.empty


@given(st.lists(st.integers(-(10**15), 10**15), max_size=50))
def test_money_column_matches_model_money(cents: list[int]) -> None:
    got = money_column(pd.Series(cents, dtype="int64")).tolist()
    assert got == [model.money(c) for c in cents]
