"""The approved deprovisioning list, and applying it through Graph.

The list holds every finding of the last good run whose current decision is
``remove``: licences to take away (account, SKU) and phones to reclaim. It is
what the service desk works from. With Graph enabled, :func:`apply_removals`
removes the licences itself and records each result; phones are always left
to the service desk (the call manager is only read).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

import pandas as pd
from sqlalchemy.orm import Session

from licensewatch import model, store
from licensewatch.answers.licence_removal import GraphLicenseRemover, LicenseRemoval, RemovalResult
from licensewatch.reports.findings import money_column
from licensewatch.store.decisions import current_decisions, last_actions, record_action

REMOVE_LICENSE: Final = "remove_license"
COLUMNS: Final = (
    "department",
    "resource_kind",
    "subject",
    "display_name",
    "account_id",
    "sku_id",
    "item",
    "what",
    "annual_cost_usd",
    "decided_at",
    "justification",
    "last_result",
    "resource_id",
)


def approved(session: Session) -> pd.DataFrame:
    """The findings of the last good run that a focal point decided to remove.

    Columns :data:`COLUMNS` plus ``annual_cost_cents``; sorted by department,
    kind and subject. Empty when there is no good run or no such decision.
    """
    last = store.last_good_run(session)
    if last is None:
        return pd.DataFrame(columns=[*COLUMNS, "annual_cost_cents"])
    findings = store.findings_of_run(session, last.id)
    decisions = current_decisions(session, findings["resource_id"].tolist())
    removing = decisions[decisions["decision"] == "remove"]
    rows = findings.merge(
        removing[["resource_id", "decided_at", "justification"]], on="resource_id", how="inner"
    )
    licences = rows["resource_kind"] == model.ResourceKind.LICENSE.value
    sku = rows["resource_id"].astype(model.STRING).str.rsplit(":", n=1).str[-1]
    results = last_actions(session, rows["resource_id"].tolist())
    out = pd.DataFrame(
        {
            "department": rows["department"],
            "resource_kind": rows["resource_kind"],
            "subject": rows["subject"],
            "display_name": rows["display_name"],
            "account_id": rows["account_id"].mask(~licences),
            "sku_id": sku.mask(~licences),
            "item": rows["item"],
            "what": rows["match_key"].where(licences, rows["subject"]),
            "annual_cost_usd": money_column(rows["annual_cost_cents"].astype("int64")),
            "decided_at": rows["decided_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "justification": rows["justification"],
            "last_result": [_result(results.get(r)) for r in rows["resource_id"]],
            "resource_id": rows["resource_id"],
            "annual_cost_cents": rows["annual_cost_cents"].astype("int64"),
        }
    )
    return out.sort_values(["department", "resource_kind", "subject", "resource_id"]).reset_index(
        drop=True
    )


def _result(found: tuple[bool, str] | None) -> str:
    if found is None:
        return ""
    ok, detail = found
    return detail if ok else f"failed: {detail}"


def pending_licences(listed: pd.DataFrame) -> list[LicenseRemoval]:
    """The licences of the list not yet removed through Graph, grouped by account."""
    todo = listed[
        (listed["resource_kind"] == model.ResourceKind.LICENSE.value)
        & ~listed["last_result"].isin(["removed", "already removed"])
    ]
    removals = []
    for (account_id, upn), group in todo.groupby(["account_id", "subject"], sort=True):
        removals.append(
            LicenseRemoval(str(account_id), str(upn), tuple(group["sku_id"].astype(str)))
        )
    return removals


def apply_removals(
    session: Session,
    removals: list[LicenseRemoval],
    remover: GraphLicenseRemover,
    *,
    clock: Callable[[], datetime],
    operator: str,
) -> list[RemovalResult]:
    """Remove ``removals`` through Graph, recording (and committing) each result as it comes.

    A failure that stops the remover (token, permission, Graph unreachable)
    propagates after the results so far were recorded.
    """
    results: list[RemovalResult] = []

    def record(result: RemovalResult) -> None:
        results.append(result)
        record_action(
            session,
            resource_id=f"license:{result.account_id}:{result.sku_id}",
            action=REMOVE_LICENSE,
            requested_at=clock(),
            ok=result.ok,
            detail=result.detail,
            requested_by=operator,
        )
        session.commit()

    remover.remove(removals, on_result=record)
    return results
