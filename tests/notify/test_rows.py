"""The fields a notice shows (``notify.rows.prepare``): each phone's details from the inventory."""

from __future__ import annotations

import pandas as pd

from licensewatch import model
from licensewatch.notify.rows import prepare
from tests.notify.sample import sample


def _nameless(inventory: pd.DataFrame) -> pd.DataFrame:
    """The inventory with a phone that has no device name (a half-provisioned one), first."""
    stray = {
        "device_name": None,
        "description": "spare",
        "model": "Cisco 9999",
        "device_pool": "DP_SOMEWHERE_ELSE",
        "directory_number": "9999",
    }
    return pd.concat([pd.DataFrame([stray]), inventory], ignore_index=True)


def test_each_phone_finding_has_its_extension_model_and_location() -> None:
    costed, inventory = sample()
    rows = prepare(costed, inventory).set_index("resource_id")
    phones = costed[costed["resource_kind"] == model.ResourceKind.PHONE.value]
    assert len(phones) >= 2
    by_device = inventory.set_index("device_name")
    for _, finding in phones.iterrows():
        row, phone = rows.loc[finding["resource_id"]], by_device.loc[finding["subject"]]
        assert (row["extension"], row["model"], row["location"]) == (
            phone["directory_number"],
            phone["model"],
            phone["device_pool"],
        )


def test_a_phone_without_a_name_lends_its_details_to_no_licence() -> None:
    costed, inventory = sample()
    rows = prepare(costed, _nameless(inventory))
    licences = rows[rows["resource_kind"] == model.ResourceKind.LICENSE.value]
    assert len(licences) > 0
    assert licences["extension"].isna().all()
    assert licences["location"].isna().all()
    assert licences["model"].isna().all()
    # The phones still have theirs.
    assert prepare(costed, inventory).equals(prepare(costed, _nameless(inventory)))


def test_a_device_name_matches_whatever_its_case() -> None:
    costed, inventory = sample()
    shouted = inventory.assign(device_name=inventory["device_name"].str.lower())
    assert prepare(costed, shouted).equals(prepare(costed, inventory))
