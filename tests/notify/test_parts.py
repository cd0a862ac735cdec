"""Each process prepares only its own departments' rows, and gets what preparing them all gives."""

from __future__ import annotations

import pandas as pd
import pytest

from licensewatch import model
from licensewatch.notify import parts
from licensewatch.notify.rows import prepare
from tests.reports.costed import costed, finding


def _rows() -> pd.DataFrame:
    return costed(
        # Olga: a licence listed by Finance, her phone by Legal (its device pool's department).
        finding("license:olga:e3", "Finance", "olga@x.org", name="Olga", reasons="SEPARATED",
                separation="2019-10-01"),
        finding("phone:SEP1", "Legal", "SEP1", kind="phone", account_id="olga@x.org",
                reasons="PHONE_OWNER_DORMANT", rate=23000),
        finding("license:bob:e3", "Legal", "bob@x.org", name="Bob", rate=5000),
        finding("license:bob:e5", "Legal", "bob@x.org", name="Bob", rate=40000),
        finding("license:ann:e3", "Finance", "ann@x.org", name="Ann"),
        finding("phone:SEP2", "Legal", "SEP2", kind="phone", reasons="NEVER_REGISTERED"),
    )  # fmt: skip


def _owned(rows: pd.DataFrame) -> parts.Owned:
    return parts.Owned(rows, model.norm_key(rows["department"]), None)


@pytest.mark.parametrize(
    "keys", [["finance"], ["legal"], ["finance", "legal"], ["legal", "finance"]]
)
def test_a_part_prepares_its_rows_as_all_rows_prepared_together(keys: list[str]) -> None:
    rows = _rows()
    owned = _owned(rows)
    together = prepare(rows)
    department = owned.department.loc[together.index]
    mine = owned.prepared(keys)
    assert sorted(mine) == sorted(keys)
    for key in keys:
        expected = together[(department == key).to_numpy(bool)]
        pd.testing.assert_frame_equal(mine[key], expected)
    # Olga's phone stands with her separation in Legal's email, whoever prepares Legal's rows.
    if "legal" in keys:
        olga = mine["legal"].set_index("resource_id").loc["phone:SEP1"]
        assert olga["standing"] == together.set_index("resource_id").loc["phone:SEP1", "standing"]
        assert (
            olga["standing"]
            != prepare(rows[rows["department"] == "Legal"])
            .set_index("resource_id")
            .loc["phone:SEP1", "standing"]
        )


@pytest.mark.parametrize(
    ("weights", "half"),
    [([10, 10], 1), ([100, 1, 1, 1], 1), ([1, 1, 1, 100], 3), ([5, 5, 5, 5], 2), ([1] * 10, 5)],
)
def test_the_child_takes_its_share_of_the_rows_and_each_part_one_department_at_least(
    weights: list[int], half: int
) -> None:
    assert parts.split(weights, 0.55) == half
