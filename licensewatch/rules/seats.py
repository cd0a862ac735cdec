"""Seats paid vs assigned vs dormant, renewals, and where licences come from. Pure.

Per SKU (:func:`seat_table`): ``purchased`` is ``prepaidUnits.enabled`` (NA
when Graph gave none), ``assigned`` is ``consumedUnits`` (what Graph bills),
``unassigned`` is ``purchased − assigned`` floored at 0 (an over-assignment is a
warning). The SKU's dormant licence findings are split in two disjoint counts:
``approved_removal`` (a focal point decided remove; not yet gone from the pull)
and ``dormant`` (neither approved nor kept). A kept licence is a justified
exception and counts in neither. Money is the rate card in force for the SKU
part number (exactly as findings are priced: :func:`licensewatch.rules.pricing.price`);
an unpriced SKU has NA rate and money.

A seat can only be cut when its subscription renews (:func:`renewals`): for each
subscription (not a trial) whose ``nextLifecycleDateTime`` falls within the
horizon, its SKU's ``unassigned + approved_removal + dormant`` seats are
allotted to the SKU's renewing subscriptions in date order, each at most its
``totalLicenses``.

:func:`attach_groups` says, for each licence finding, whether the licence is
inherited from a group (``via_group_id``, ``via_group``: its display name, else
its id) and whether it is assigned directly too (``assigned_directly``).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd

from licensewatch import model
from licensewatch.rules.pricing import price

#: A subscription's ``status`` values whose next lifecycle date is a renewal.
RENEWING: Final = frozenset({"enabled", "warning"})
SEAT_ROWS: Final[model.Schema] = {
    "sku_id": model.STRING,
    "sku_part_number": model.STRING,
    "item": model.STRING,
    "purchased": "Int64",
    "assigned": "Int64",
    "unassigned": "Int64",
    "dormant": model.INT,
    "approved_removal": model.INT,
    "annual_rate_cents": "Int64",
    "unassigned_annual_cents": "Int64",
    "dormant_annual_cents": "Int64",
    "next_renewal": model.DATETIME,
    "errors": model.INT,
}
RENEWAL_ROWS: Final[model.Schema] = {
    "subscription_id": model.STRING,
    "sku_id": model.STRING,
    "sku_part_number": model.STRING,
    "item": model.STRING,
    "renews_on": model.DATETIME,
    "days_to_renewal": model.INT,
    "total_licenses": model.INT,
    "seats_to_cut": model.INT,
    "annual_saving_cents": "Int64",
}
ERROR_ROWS: Final[model.Schema] = {
    "account_id": model.STRING,
    "sku_id": model.STRING,
    "sku_part_number": model.STRING,
    "assigned_by_group": model.STRING,
    "group_name": model.STRING,
    "state": model.STRING,
    "error": model.STRING,
}


def _sku_of(resource_ids: pd.Series) -> pd.Series:
    """The SKU id of ``license:<account>:<sku>`` resource ids (folded), NA for phones."""
    text = resource_ids.astype(model.STRING)
    sku = text.str.rsplit(":", n=1).str[-1].where(text.str.startswith("license:"))
    return model.norm_key(sku)


def _finding_counts(planned: pd.DataFrame) -> pd.DataFrame:
    """Per folded SKU id: dormant (open) and approved-for-removal licence findings."""
    licences = planned.loc[planned["resource_kind"] == model.ResourceKind.LICENSE.value]
    decision = (
        licences["decision"] if "decision" in licences.columns else pd.Series(pd.NA, licences.index)
    )
    status = (
        licences["status"] if "status" in licences.columns else pd.Series(pd.NA, licences.index)
    )
    approved = (decision.astype(model.STRING) == "remove").fillna(False).to_numpy(bool)
    kept = (status.astype(model.STRING) == model.FindingStatus.KEPT.value).fillna(False)
    frame = pd.DataFrame(
        {
            "key": _sku_of(licences["resource_id"]).to_numpy(),
            "approved_removal": approved.astype(np.int64),
            "dormant": (~approved & ~kept.to_numpy(bool)).astype(np.int64),
        }
    )
    return frame.groupby("key", sort=False)[["dormant", "approved_removal"]].sum()


def _rates(parts: pd.Series, rates_in_force: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Item and annual rate of each SKU part number, priced like a licence finding."""
    probe = pd.DataFrame(
        {
            "resource_id": [f"sku:{i}" for i in range(len(parts))],
            "resource_kind": model.ResourceKind.LICENSE.value,
            "match_key": parts.to_numpy(),
        }
    )
    costed = price(probe, rates_in_force, as_of)
    return pd.DataFrame(
        {
            "item": costed["item"].to_numpy(),
            "annual_rate_cents": costed["annual_rate_cents"]
            .astype("Int64")
            .mask(~costed["priced"]),
        }
    )


def _sku_list(seats: pd.DataFrame | None, licenses: pd.DataFrame) -> pd.DataFrame:
    """Every SKU paid for or held: seats' rows first, then SKUs only the licences name."""
    paid = model.empty(model.SKU_SEATS) if seats is None else seats
    held = licenses[["sku_id", "sku_part_number"]].assign(key=model.norm_key(licenses["sku_id"]))
    held = held.drop_duplicates("key")
    paid = paid.assign(key=model.norm_key(paid["sku_id"]))
    extra = held.loc[~model.isin(held["key"], paid["key"])]
    return pd.concat([paid, extra], ignore_index=True)


def seat_table(
    seats: pd.DataFrame | None,
    licenses: pd.DataFrame,
    planned: pd.DataFrame,
    subscriptions: pd.DataFrame | None,
    license_states: pd.DataFrame | None,
    *,
    rates_in_force: pd.DataFrame,
    as_of: pd.Timestamp,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """One SEAT_ROWS row per SKU (sorted by part number), and the warnings (over-assignment)."""
    skus = _sku_list(seats, licenses)
    counts = _finding_counts(planned).reindex(skus["key"]).fillna(0).astype(np.int64)
    priced = _rates(skus["sku_part_number"].astype(model.STRING), rates_in_force, as_of)
    purchased = skus["enabled"].astype("Int64")
    assigned = skus["consumed"].astype("Int64")
    held = model.norm_key(licenses["sku_id"]).value_counts()
    assigned = assigned.fillna(
        held.reindex(skus["key"]).fillna(0).astype("Int64").set_axis(skus.index)
    )
    unassigned = (purchased - assigned).clip(lower=0)
    rate = priced["annual_rate_cents"].set_axis(skus.index)
    table = pd.DataFrame(
        {
            "sku_id": skus["sku_id"],
            "sku_part_number": skus["sku_part_number"],
            "item": priced["item"].to_numpy(),
            "purchased": purchased,
            "assigned": assigned,
            "unassigned": unassigned,
            "dormant": counts["dormant"].to_numpy(),
            "approved_removal": counts["approved_removal"].to_numpy(),
            "annual_rate_cents": rate,
            "unassigned_annual_cents": unassigned * rate,
            "dormant_annual_cents": pd.Series(counts["dormant"].to_numpy(), skus.index) * rate,
            "next_renewal": _next_renewals(skus["key"], subscriptions, as_of),
            "errors": _error_counts(skus["key"], license_states),
        }
    )
    over = table.loc[(table["assigned"] > table["purchased"]).fillna(False)]
    warnings = tuple(
        f"seats: {r.sku_part_number} has {r.assigned} licences assigned but {r.purchased} "
        "purchased (over-assigned)"
        for r in over.itertuples()
    )
    table = table.sort_values(["sku_part_number", "sku_id"], kind="stable", na_position="last")
    return model.conform(table, SEAT_ROWS), warnings


def _renewing(subscriptions: pd.DataFrame | None, as_of: pd.Timestamp) -> pd.DataFrame:
    """The subscriptions that renew on or after ``as_of`` (not trials), earliest first."""
    if subscriptions is None or subscriptions.empty:
        return model.empty(model.SUBSCRIPTIONS).assign(key=pd.Series(dtype=model.STRING))
    status = subscriptions["status"].astype(model.STRING).str.casefold()
    ok = status.isin(list(RENEWING)).fillna(False) & ~subscriptions["is_trial"].fillna(False)
    ok &= (subscriptions["next_lifecycle_at"] >= as_of.normalize()).fillna(False)
    found = subscriptions.loc[ok.to_numpy(bool)].assign(key=model.norm_key(subscriptions["sku_id"]))
    return found.sort_values(["next_lifecycle_at", "subscription_id"], kind="stable")


def _next_renewals(
    keys: pd.Series, subscriptions: pd.DataFrame | None, as_of: pd.Timestamp
) -> pd.Series:
    first = _renewing(subscriptions, as_of).groupby("key")["next_lifecycle_at"].min()
    return pd.Series(first.reindex(keys).to_numpy(), index=keys.index, dtype=model.DATETIME)


def _error_counts(keys: pd.Series, license_states: pd.DataFrame | None) -> np.ndarray:
    errors = license_errors(license_states)
    per_sku = model.norm_key(errors["sku_id"]).value_counts()
    return per_sku.reindex(keys).fillna(0).astype(np.int64).to_numpy()


def license_errors(
    license_states: pd.DataFrame | None, seats: pd.DataFrame | None = None
) -> pd.DataFrame:
    """ERROR_ROWS: the licence assignments Graph holds in error (``CountViolation`` …)."""
    if license_states is None:
        return model.empty(ERROR_ROWS)
    state = license_states["state"].astype(model.STRING).str.casefold()
    bad = license_states["error"].notna() | (state == "error").fillna(False)
    rows = license_states.loc[bad.to_numpy(bool)]
    parts: pd.Series = pd.Series(dtype=model.STRING)
    if seats is not None:
        parts = pd.Series(
            seats["sku_part_number"].to_numpy(), index=model.norm_key(seats["sku_id"])
        )
        parts = parts[~parts.index.duplicated()]
    rows = rows.assign(
        sku_part_number=parts.reindex(model.norm_key(rows["sku_id"])).to_numpy(),
        error=rows["error"].fillna(rows["state"]),
    )
    return model.conform(rows.sort_values(["sku_id", "account_id"]), ERROR_ROWS)


def renewals(
    seats: pd.DataFrame,
    subscriptions: pd.DataFrame | None,
    *,
    as_of: pd.Timestamp,
    horizon_days: int,
) -> pd.DataFrame:
    """RENEWAL_ROWS: each subscription renewing within ``horizon_days`` of ``as_of``."""
    due = _renewing(subscriptions, as_of)
    day = as_of.normalize()
    due = due.loc[
        (due["next_lifecycle_at"] <= day + pd.Timedelta(days=horizon_days)).to_numpy(bool)
    ]
    records = seats.assign(key=model.norm_key(seats["sku_id"])).to_dict("records")
    skus: dict[str, dict[str, Any]] = {
        str(row["key"]): {str(k): v for k, v in row.items()} for row in records
    }
    left = {k: _cuttable(row) for k, row in skus.items()}
    rows = []
    for sub in due.to_dict("records"):
        key = str(sub["key"])
        sku = skus.get(key, {})
        cut = min(int(sub["total_licenses"]), left.get(key, 0))
        left[key] = left.get(key, 0) - cut
        rate = sku.get("annual_rate_cents")
        renews = pd.Timestamp(sub["next_lifecycle_at"])
        rows.append(
            {
                "subscription_id": sub["subscription_id"],
                "sku_id": sub["sku_id"],
                "sku_part_number": sku.get("sku_part_number", sub["sku_part_number"]),
                "item": sku.get("item"),
                "renews_on": renews,
                "days_to_renewal": (renews.normalize() - day).days,
                "total_licenses": int(sub["total_licenses"]),
                "seats_to_cut": cut,
                "annual_saving_cents": None if rate is None or _missing(rate) else cut * int(rate),
            }
        )
    return model.conform(pd.DataFrame(rows, columns=list(RENEWAL_ROWS)), RENEWAL_ROWS)


def _missing(value: Any) -> bool:
    return value is None or bool(pd.isna(value))


def _cuttable(row: dict[str, Any]) -> int:
    """Seats of one SKU that could go at renewal: unassigned + approved removals + dormant."""
    unassigned = 0 if _missing(row["unassigned"]) else int(row["unassigned"])
    return unassigned + int(row["approved_removal"]) + int(row["dormant"])


def attach_groups(costed: pd.DataFrame, license_states: pd.DataFrame | None) -> pd.DataFrame:
    """``costed`` with ``via_group_id``, ``via_group`` and ``assigned_directly`` filled in.

    Unchanged when the pull read no licence states; a licence with no state
    (not in ``licenseAssignmentStates``) keeps NA in all three.
    """
    if license_states is None or license_states.empty:
        return costed
    states = license_states.assign(
        rid=("license:" + model.norm_key(license_states["account_id"]) + ":"
             + model.norm_key(license_states["sku_id"])),
        direct=license_states["assigned_by_group"].isna(),
    )  # fmt: skip
    inherited = states.loc[~states["direct"]].sort_values(["rid", "assigned_by_group"])
    first = inherited.drop_duplicates("rid").set_index("rid")
    direct = states.groupby("rid")["direct"].any()
    key = model.norm_key(costed["resource_id"])
    group_id = first["assigned_by_group"].reindex(key).to_numpy()
    name = first["group_name"].fillna(first["assigned_by_group"]).reindex(key).to_numpy()
    return costed.assign(
        via_group_id=pd.array(group_id, dtype=model.STRING),
        via_group=pd.array(name, dtype=model.STRING),
        assigned_directly=pd.array(direct.reindex(key).to_numpy(), dtype=model.BOOLEAN),
    )
