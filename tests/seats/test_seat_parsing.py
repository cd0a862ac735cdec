"""Seats, subscriptions, licence states and group names parsed from Graph's documented shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from licensewatch.errors import InputError
from licensewatch.sources.graph.seats import (
    LicenseStates,
    parse_group_names,
    parse_sku_seats,
    parse_subscriptions,
    saved_seats,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "graph_seats"
E5 = "c7df2760-2c81-4ef7-b578-5b5392b571df"
GROUP = "1ad75eeb-7e5a-4367-a493-9214d90d54d0"


def doc(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_prepaid_and_consumed_units_per_sku() -> None:
    seats = parse_sku_seats(doc("subscribedSkus.json"), origin="skus")
    assert seats.to_dict("records") == [
        {"sku_id": E5, "sku_part_number": "ENTERPRISEPREMIUM", "enabled": 25, "warning": 0,
         "suspended": 0, "locked_out": 0, "consumed": 14},
        {"sku_id": "d17b27af-3f49-4822-99f9-56a661538792", "sku_part_number": "CRMSTANDARD",
         "enabled": 0, "warning": 0, "suspended": 25, "locked_out": 0, "consumed": 14},
    ]  # fmt: skip


def test_a_bad_prepaid_count_names_the_sku_and_field() -> None:
    bad = doc("subscribedSkus.json")
    bad["value"][1]["prepaidUnits"]["enabled"] = "25"
    with pytest.raises(InputError) as caught:
        parse_sku_seats(bad, origin="skus.json")
    (problem,) = caught.value.problems
    assert (problem.file, problem.row, problem.column) == ("skus.json", 2, "prepaidUnits.enabled")
    assert "SKU #2 has prepaidUnits.enabled '25'; expected a count" in problem.message


def test_a_sku_without_prepaid_units_has_no_seat_row() -> None:
    partial = doc("subscribedSkus.json")
    del partial["value"][0]["prepaidUnits"]
    assert parse_sku_seats(partial, origin="x")["sku_part_number"].tolist() == ["CRMSTANDARD"]


def test_subscriptions_with_their_renewal_dates() -> None:
    subs = parse_subscriptions(doc("subscriptions.json"), origin="subs")
    first, trial = subs.to_dict("records")
    assert first["subscription_id"] == "43d26afe-cb98-48b9-acc4-ae3ef2ac6c51"
    assert (first["sku_id"], first["total_licenses"], first["status"]) == (E5, 25, "Enabled")
    assert first["next_lifecycle_at"] == pd.Timestamp("2020-03-01", tz="UTC")
    assert first["created_at"] == pd.Timestamp("2018-04-01", tz="UTC")
    assert trial["is_trial"] is True and trial["status"] == "Suspended"


def test_a_bad_renewal_date_names_the_subscription() -> None:
    bad = doc("subscriptions.json")
    bad["value"][0]["nextLifecycleDateTime"] = "soon"
    with pytest.raises(InputError) as caught:
        parse_subscriptions(bad, origin="subscriptions.json")
    (problem,) = caught.value.problems
    assert (problem.row, problem.column) == (1, "nextLifecycleDateTime")


def test_licence_states_direct_inherited_and_in_error() -> None:
    states = LicenseStates()
    pages = [doc("users_states.json")]
    assert list(states.watch(pages)) == pages  # the pages pass through unchanged
    assert states.group_ids() == [GROUP]
    names = parse_group_names([doc("group_1ad75eeb.json")], origin="groups")
    frame = states.frame(names)
    rows = [tuple(r) for r in frame.astype(object).where(frame.notna(), None).to_numpy()]
    adele, alex, diego = (
        "1aecaf40-dc3a-461f-88a8-d06994e12898",
        "6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0",
        "4782e723-f4f4-4af3-a76e-25e3bab0d896",
    )
    assert rows == [
        (adele, E5, None, None, "Active", None),
        (adele, E5, GROUP, "LIC-E5-Sales", "Active", None),
        (alex, E5, GROUP, "LIC-E5-Sales", "Active", None),
        (diego, E5, GROUP, "LIC-E5-Sales", "Error", "CountViolation"),
    ]


def test_a_saved_folder_without_subscriptions_has_no_renewal_data(tmp_path: Path) -> None:
    data = saved_seats(tmp_path, doc("subscribedSkus.json"), [doc("users_states.json")], _load)
    assert data.subscriptions is None
    assert data.notes == ("1 licensing group(s) without a display name: shown by id",)
    assert data.license_states["group_name"].isna().all()
    (tmp_path / "subscriptions.json").write_bytes((FIXTURES / "subscriptions.json").read_bytes())
    (tmp_path / "groups.json").write_text(
        json.dumps({"value": [doc("group_1ad75eeb.json")]}), encoding="utf-8"
    )
    data = saved_seats(tmp_path, doc("subscribedSkus.json"), [doc("users_states.json")], _load)
    assert data.subscriptions is not None and len(data.subscriptions) == 2 and data.notes == ()


def _load(path: Path) -> Any:
    return json.loads(path.read_bytes())
