"""rules.seats: seats per SKU, renewals within the horizon, via_group, to the cent."""

from __future__ import annotations

import pandas as pd

from licensewatch import model
from licensewatch.reports.seats import renewals_csv_table, seats_csv_table
from licensewatch.rules.seats import attach_groups, license_errors, renewals, seat_table

AS_OF = pd.Timestamp("2019-12-31", tz="UTC")
E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"
PBI = "f8a1db68-be16-40ed-86d5-cb42ce701560"
VISIO = "c5928f49-12ba-48f7-ada3-0d743a3601d5"
GROUP = "1ad75eeb-7e5a-4367-a493-9214d90d54d0"


def frame(schema: model.Schema, rows: list[dict[str, object]]) -> pd.DataFrame:
    return model.conform(pd.DataFrame(rows, columns=list(schema)), schema)


SEATS = frame(model.SKU_SEATS, [
    {"sku_id": E3, "sku_part_number": "SPE_E3", "enabled": 10, "warning": 0, "suspended": 0,
     "locked_out": 0, "consumed": 7},
    {"sku_id": PBI, "sku_part_number": "POWER_BI_PRO", "enabled": 1, "warning": 0,
     "suspended": 0, "locked_out": 0, "consumed": 2},
])  # fmt: skip
LICENSES = frame(model.ACCOUNT_LICENSES, [
    {"account_id": f"a{i}", "sku_id": E3, "sku_part_number": "SPE_E3"} for i in range(7)
] + [
    {"account_id": "a1", "sku_id": PBI, "sku_part_number": "POWER_BI_PRO"},
    {"account_id": "a2", "sku_id": PBI, "sku_part_number": "POWER_BI_PRO"},
    {"account_id": "a3", "sku_id": VISIO, "sku_part_number": "VISIOCLIENT"},
])  # fmt: skip
RATES = frame(model.RATE_CARD, [
    {"item": "M365_E3", "description": "E3", "resource_kind": "license", "matches": "SPE_E3",
     "annual_rate_cents": 18960, "effective_from": pd.Timestamp("2019-01-01", tz="UTC")},
    {"item": "PBI", "description": "Power BI", "resource_kind": "license",
     "matches": "POWER_BI_PRO", "annual_rate_cents": 11999,
     "effective_from": pd.Timestamp("2019-01-01", tz="UTC")},
])  # fmt: skip


def planned() -> pd.DataFrame:
    """Four dormant E3 licences: one approved for removal, one kept, two open; a phone."""
    rows = [
        ("license:a1:" + E3, "license", "remove", "notified"),
        ("license:a2:" + E3, "license", None, "kept"),
        ("license:a3:" + E3, "license", None, "notified"),
        ("license:a4:" + E3.upper(), "license", None, "new"),
        ("phone:sep1", "phone", "remove", "notified"),
    ]
    return pd.DataFrame(rows, columns=["resource_id", "resource_kind", "decision", "status"])


def subscriptions() -> pd.DataFrame:
    def sub(sid: str, sku: str, total: int, renews: str, trial: bool = False) -> dict[str, object]:
        return {"subscription_id": sid, "sku_id": sku, "sku_part_number": None,
                "total_licenses": total, "status": "Enabled", "is_trial": trial,
                "next_lifecycle_at": pd.Timestamp(renews, tz="UTC"),
                "created_at": pd.Timestamp("2018-01-01", tz="UTC")}  # fmt: skip

    return frame(model.SUBSCRIPTIONS, [
        sub("s2", E3, 4, "2020-04-29"),   # day 120: inside the default horizon
        sub("s1", E3, 3, "2020-02-01"),
        sub("s3", PBI, 1, "2020-02-01", trial=True),  # a trial ends, it does not renew
        sub("s4", E3, 5, "2020-06-01"),  # outside
    ])  # fmt: skip


def test_seats_per_sku_exact() -> None:
    table, warnings = seat_table(SEATS, LICENSES, planned(), subscriptions(), None,
                                 rates_in_force=RATES, as_of=AS_OF)  # fmt: skip
    rows = seats_csv_table(table).to_dict("records")
    assert rows == [
        {"sku_id": PBI, "sku_part_number": "POWER_BI_PRO", "item": "PBI", "purchased": "1",
         "assigned": "2", "unassigned": "0", "dormant": "0", "approved_removal": "0",
         "annual_rate_usd": "119.99", "unassigned_annual_usd": "0.00",
         "dormant_annual_usd": "0.00", "next_renewal": ""},
        {"sku_id": E3, "sku_part_number": "SPE_E3", "item": "M365_E3", "purchased": "10",
         "assigned": "7", "unassigned": "3", "dormant": "2", "approved_removal": "1",
         "annual_rate_usd": "189.60", "unassigned_annual_usd": "568.80",
         "dormant_annual_usd": "379.20", "next_renewal": "2020-02-01"},
        {"sku_id": VISIO, "sku_part_number": "VISIOCLIENT", "item": "", "purchased": "",
         "assigned": "1", "unassigned": "", "dormant": "0", "approved_removal": "0",
         "annual_rate_usd": "", "unassigned_annual_usd": "", "dormant_annual_usd": "",
         "next_renewal": ""},
    ]  # fmt: skip
    assert warnings == (
        "seats: POWER_BI_PRO has 2 licences assigned but 1 purchased (over-assigned)",
    )


def test_renewals_cut_unassigned_approved_and_dormant_in_date_order() -> None:
    table, _ = seat_table(SEATS, LICENSES, planned(), subscriptions(), None,
                          rates_in_force=RATES, as_of=AS_OF)  # fmt: skip
    due = renewals(table, subscriptions(), as_of=AS_OF, horizon_days=120)
    rows = renewals_csv_table(due).to_dict("records")
    # 3 unassigned + 1 approved + 2 dormant = 6 E3 seats: 3 at s1 (its whole size), 3 at s2.
    assert [(r["subscription_id"], r["renews_on"], r["days_to_renewal"], r["seats_to_cut"],
             r["annual_saving_usd"]) for r in rows] == [
        ("s1", "2020-02-01", "32", "3", "568.80"),
        ("s2", "2020-04-29", "120", "3", "568.80"),
    ]  # fmt: skip
    assert renewals(table, subscriptions(), as_of=AS_OF, horizon_days=31).empty
    assert renewals(table, None, as_of=AS_OF, horizon_days=120).empty


def test_via_group_and_direct_too() -> None:
    states = frame(model.LICENSE_STATES, [
        {"account_id": "A1", "sku_id": E3, "assigned_by_group": GROUP, "group_name": "LIC-E3",
         "state": "Active"},
        {"account_id": "a1", "sku_id": E3, "assigned_by_group": None, "state": "Active"},
        {"account_id": "a3", "sku_id": E3, "assigned_by_group": GROUP, "group_name": None,
         "state": "Active"},
        {"account_id": "a9", "sku_id": E3, "assigned_by_group": GROUP, "state": "Error",
         "error": "CountViolation"},
    ])  # fmt: skip
    out = attach_groups(planned(), states)
    got = out[["via_group", "assigned_directly"]].astype(object).where(out.notna(), None)
    assert got.values.tolist() == [
        ["LIC-E3", True],  # inherited and direct
        [None, None],  # no state known
        [GROUP, False],  # inherited only; the group's name unresolved: its id
        [None, None],
        [None, None],  # a phone
    ]
    errors = license_errors(states, SEATS)
    assert errors[["account_id", "sku_part_number", "error"]].values.tolist() == [
        ["a9", "SPE_E3", "CountViolation"]
    ]
    unchanged = planned()
    assert attach_groups(unchanged, None) is unchanged  # no states read: nothing is claimed
