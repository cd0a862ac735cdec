"""findings.csv: one row per dormant resource, in the words and units finance reads."""

from __future__ import annotations

from typing import Final

import pandas as pd

from licensewatch import model

FINDINGS_COLUMNS: Final = (
    "department",
    "resource_kind",
    "subject",
    "owner_upn",
    "display_name",
    "reasons",
    "dormant_since",
    "days_dormant",
    "item",
    "annual_cost_usd",
    "accrued_cost_usd",
    "status",
    "sku_part_number",
    "via_group",
    "follow_up",
)


def money_column(cents: pd.Series) -> pd.Series:
    """A column of integer cents as decimal strings with two places (as :func:`model.money`)."""
    values: list[int] = cents.astype(model.INT).tolist()
    # The comprehension handles the common non-negative case without a function call per row.
    text = [f"{v // 100}.{v % 100:02d}" if v >= 0 else model.money(v) for v in values]
    return pd.Series(text, index=cents.index, dtype=model.STRING)


def unpriced_mask(costed: pd.DataFrame) -> pd.Series:
    """True where no rate-card item priced the finding (its costs count as zero)."""
    priced = costed["priced"].astype(model.BOOLEAN).fillna(False).astype(bool)
    return ~priced | costed["item"].isna()


def costs_cents(costed: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Annual and accrued cost in cents, forced to zero for unpriced findings."""
    unpriced = unpriced_mask(costed)
    annual = costed["annual_cost_cents"].astype(model.INT).mask(unpriced, 0)
    accrued = costed["accrued_cost_cents"].astype(model.INT).mask(unpriced, 0)
    return annual, accrued


def _dates(series: pd.Series) -> pd.Series:
    text: pd.Series = series.dt.strftime("%Y-%m-%d").astype(model.STRING)
    return text.fillna("")


def _text(series: pd.Series) -> pd.Series:
    return series.astype(model.STRING).fillna("")


def _optional_text(costed: pd.DataFrame, column: str) -> pd.Series:
    """A text column the frame may lack (frames built before issue 17): empty then."""
    if column not in costed.columns:
        return pd.Series("", index=costed.index, dtype=model.STRING)
    return _text(costed[column])


def findings_table(costed: pd.DataFrame) -> pd.DataFrame:
    """Costed findings (``COSTED_FINDINGS`` + ``status``) as the rows of findings.csv.

    Columns are :data:`FINDINGS_COLUMNS`, all text (``sku_part_number`` is the
    licence's product, ``via_group`` the group it is inherited from, ``follow_up``
    where it stands: :mod:`licensewatch.reports.follow_up`): dates as YYYY-MM-DD, money
    with two decimals, missing values empty. Unpriced findings have an empty
    item and costs of "0.00". Rows are sorted by department, resource kind,
    annual cost (highest first) and subject; a frame without ``status`` (the
    pipeline's unassigned queue before it is stored) gets an empty status.
    When any finding is a phone of a named call-manager cluster (other than the
    single-cluster form's ``default``), a ``cluster`` column follows ``subject``
    (empty for licences); otherwise the file is as before.
    """
    annual, accrued = costs_cents(costed)
    unpriced = unpriced_mask(costed)
    licence = costed["resource_kind"] == model.ResourceKind.LICENSE.value
    status = (
        costed["status"] if "status" in costed.columns else pd.Series(pd.NA, index=costed.index)
    )
    table = pd.DataFrame(
        {
            "department": _text(costed["department"]),
            "resource_kind": _text(costed["resource_kind"]),
            "subject": _text(costed["subject"]),
            "owner_upn": _text(costed["owner_upn"]),
            "display_name": _text(costed["display_name"]),
            "reasons": _text(costed["reasons"]),
            "dormant_since": _dates(costed["dormant_since"]),
            "days_dormant": _text(costed["days_dormant"]),
            "item": _text(costed["item"].mask(unpriced, pd.NA)),
            "annual_cost_usd": money_column(annual),
            "accrued_cost_usd": money_column(accrued),
            "status": _text(status),
            # The product, so that an unpriced licence still says what it is (issue 17).
            "sku_part_number": _text(costed["match_key"].where(licence, pd.NA)),
            "via_group": _optional_text(costed, "via_group"),
            # Where it stands (reports.follow_up): removal approved / failed: why / kept /
            # unanswered (, overdue); empty outside a run.
            "follow_up": _optional_text(costed, "follow_up"),
        },
        index=costed.index,
    )
    order = pd.DataFrame(
        {
            "department": table["department"],
            "resource_kind": table["resource_kind"],
            "annual": annual,
            "subject": table["subject"],
            # Two findings may tie on every shown column (two unpriced licences of one
            # account); the stable id keeps the file identical from run to run.
            "resource_id": _text(costed["resource_id"]),
        }
    ).sort_values(
        ["department", "resource_kind", "annual", "subject", "resource_id"],
        ascending=[True, True, False, True, True],
        kind="stable",
    )
    table = table.loc[order.index].reset_index(drop=True)
    clusters = costed["cluster"] if "cluster" in costed.columns else None
    if clusters is not None and clusters.dropna().ne(model.DEFAULT_CLUSTER).any():
        # Phones from call-manager clusters: which cluster, after the device name.
        table.insert(3, "cluster", _text(clusters.loc[order.index]).reset_index(drop=True))
    return table
