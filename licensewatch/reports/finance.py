"""finance_summary.csv and the run's totals: avoidable cost by department and rate-card item.

Every sum is taken in integer cents over the same per-finding figures that
findings.csv shows, so the summary adds up to findings.csv to the cent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import pandas as pd

from licensewatch import model
from licensewatch.logs import get_logger
from licensewatch.per_value import counts_per_value
from licensewatch.reports.findings import costs_cents, money_column, unpriced_mask

log = get_logger(__name__)

SUMMARY_COLUMNS: Final = (
    "department",
    "resource_kind",
    "item",
    "dormant_count",
    "annual_rate_usd",
    "annual_avoidable_usd",
    "accrued_avoidable_usd",
)
#: The item label under which findings no rate-card item priced are grouped.
UNPRICED_ITEM: Final = "(unpriced)"
_KEYS: Final = ["department", "resource_kind", "item"]


def finance_summary(costed: pd.DataFrame) -> pd.DataFrame:
    """One row per department × resource kind × rate-card item (:data:`SUMMARY_COLUMNS`).

    ``annual_rate_usd`` is the item's annual rate (empty for the unpriced
    group). One run prices every finding at the rates in force on ``as_of``, so
    a group has one rate; should a group ever mix rates, the highest is shown
    and a warning is logged, while the avoidable sums stay exact. Rows are
    sorted by department, resource kind, then priced items before "(unpriced)".
    """
    unpriced = unpriced_mask(costed)
    annual, accrued = costs_cents(costed)
    frame = pd.DataFrame(
        {
            "department": costed["department"].astype(model.STRING).fillna(""),
            "resource_kind": costed["resource_kind"].astype(model.STRING).fillna(""),
            "item": costed["item"].astype(model.STRING).mask(unpriced, UNPRICED_ITEM),
            "unpriced": unpriced,
            "rate": costed["annual_rate_cents"].astype(model.INT).mask(unpriced, 0),
            "annual": annual,
            "accrued": accrued,
        }
    )
    grouped = (
        frame.groupby(_KEYS, sort=False, dropna=False)
        .agg(
            dormant_count=("annual", "size"),
            unpriced=("unpriced", "all"),
            rate_max=("rate", "max"),
            rate_min=("rate", "min"),
            annual=("annual", "sum"),
            accrued=("accrued", "sum"),
        )
        .reset_index()
        .sort_values(["department", "resource_kind", "unpriced", "item"], kind="stable")
        .reset_index(drop=True)
    )
    mixed = grouped[grouped["rate_max"] != grouped["rate_min"]]
    for row in mixed.head(20).to_dict("records"):
        log.warning(
            "%s / %s / %s: findings priced at different rates (USD %s to %s); showing the highest",
            row["department"],
            row["resource_kind"],
            row["item"],
            model.money(int(row["rate_min"])),
            model.money(int(row["rate_max"])),
        )
    rate = money_column(grouped["rate_max"]).mask(grouped["unpriced"].astype(bool), "")
    return pd.DataFrame(
        {
            "department": grouped["department"].astype(model.STRING),
            "resource_kind": grouped["resource_kind"].astype(model.STRING),
            "item": grouped["item"].astype(model.STRING),
            "dormant_count": grouped["dormant_count"].astype(model.INT),
            "annual_rate_usd": rate,
            "annual_avoidable_usd": money_column(grouped["annual"]),
            "accrued_avoidable_usd": money_column(grouped["accrued"]),
        },
        columns=list(SUMMARY_COLUMNS),
    )


@dataclass(frozen=True)
class Totals:
    """A run's headline figures; money in integer cents."""

    dormant_accounts: int
    license_findings: int
    phone_findings: int
    unpriced_findings: int
    annual_avoidable_cents: int
    accrued_avoidable_cents: int
    #: Findings per reason code (a finding with two reasons counts under both);
    #: every known code is present, with zero when no finding has it.
    by_reason: Mapping[str, int]


def reason_counts(reasons: pd.Series) -> dict[str, int]:
    """Findings per reason code (``;``-separated, each stripped), the most frequent first.

    Worked out once for each distinct text of ``reasons`` (a night has a
    handful), each code stripped as pandas strips text.
    """
    parts = [(code, n) for text, n in counts_per_value(reasons.astype(model.STRING))
             for code in text.split(";")]  # fmt: skip
    codes = pd.Series([code for code, _ in parts], dtype=model.STRING).str.strip().tolist()
    counted: dict[str, int] = {}
    for code, (_, n) in zip(codes, parts, strict=True):
        if code:
            counted[code] = counted.get(code, 0) + n
    return dict(sorted(counted.items(), key=lambda item: -item[1]))


def totals(costed: pd.DataFrame) -> Totals:
    """The headline figures of costed findings (see :class:`Totals`)."""
    kind = costed["resource_kind"].astype(model.STRING)
    licences = (kind == model.ResourceKind.LICENSE.value).fillna(False).astype(bool)
    phones = (kind == model.ResourceKind.PHONE.value).fillna(False).astype(bool)
    annual, accrued = costs_cents(costed)
    by_reason = {code.value: 0 for code in model.REASON_ORDER}
    by_reason.update(reason_counts(costed["reasons"]))
    return Totals(
        dormant_accounts=int(costed.loc[licences, "account_id"].dropna().nunique()),
        license_findings=int(licences.sum()),
        phone_findings=int(phones.sum()),
        unpriced_findings=int(unpriced_mask(costed).sum()),
        annual_avoidable_cents=int(annual.sum()),
        accrued_avoidable_cents=int(accrued.sum()),
        by_reason=MappingProxyType(by_reason),
    )
