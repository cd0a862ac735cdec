"""The approved deprovisioning list, and applying it through Graph.

The list holds every finding of the last good run whose current decision is
``remove``: licences to take away (account, SKU) and phones to reclaim. It is
what the service desk works from. With Graph enabled, :func:`apply_removals`
removes the licences itself and records each result; with ``[deprovision]
groups = true`` :func:`apply_group_removals` takes accounts out of the licensing
groups their approved licences come from (:mod:`licensewatch.answers.group_removal`).
Phones are always left to the service desk (the call manager is only read).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

import pandas as pd
from sqlalchemy.orm import Session

from licensewatch import model, store
from licensewatch.answers.group_removal import (
    LEAVE_GROUP,
    GraphGroupRemover,
    GroupRemoval,
    GroupResult,
    group_key,
    plan_group_removals,
)
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
    "via_group",
    "annual_cost_usd",
    "decided_at",
    "justification",
    "last_result",
    "group_step",
    "resource_id",
)
#: Columns of :func:`approved` that the list for the service desk does not show.
INTERNAL: Final = ("annual_cost_cents", "via_group_id", "assigned_directly")


def approved(session: Session) -> pd.DataFrame:
    """The findings of the last good run that a focal point decided to remove.

    Columns :data:`COLUMNS` plus ``annual_cost_cents``; sorted by department,
    kind and subject. Empty when there is no good run or no such decision.
    """
    last = store.last_good_run(session)
    if last is None:
        return pd.DataFrame(columns=[*COLUMNS, *INTERNAL])
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
            "via_group": rows["via_group"],
            "annual_cost_usd": money_column(rows["annual_cost_cents"].astype("int64")),
            "decided_at": rows["decided_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "justification": rows["justification"],
            "last_result": [_result(results.get(r)) for r in rows["resource_id"]],
            "group_step": "",
            "resource_id": rows["resource_id"],
            "annual_cost_cents": rows["annual_cost_cents"].astype("int64"),
            "via_group_id": rows["via_group_id"],
            "assigned_directly": rows["assigned_directly"],
        }
    )
    out["group_step"] = _group_steps(session, out, findings)
    return out.sort_values(["department", "resource_kind", "subject", "resource_id"]).reset_index(
        drop=True
    )


def _group_steps(session: Session, listed: pd.DataFrame, findings: pd.DataFrame) -> list[str]:
    """Per row, what is to be done about the licensing group it inherits its licence from."""
    removals, desk = plan_group_removals(listed, findings)
    done = last_actions(session, [r.key for r in removals])
    steps = []
    for account, group_id, group in zip(
        listed["account_id"], listed["via_group_id"], listed["via_group"], strict=True
    ):
        if pd.isna(group_id):
            steps.append("")
            continue
        key = group_key(str(group_id), str(account))
        if key in desk:
            steps.append(desk[key])
        elif key in done:
            ok, detail = done[key]
            steps.append(f"left group {group}" if ok else f"leave group {group} failed: {detail}")
        else:
            steps.append(f"remove from group {group}")
    return steps


def pending_groups(session: Session, listed: pd.DataFrame) -> list[GroupRemoval]:
    """The group removals that may be applied and have not succeeded yet."""
    last = store.last_good_run(session)
    if last is None:
        return []
    removals, _ = plan_group_removals(listed, store.findings_of_run(session, last.id))
    done = last_actions(session, [r.key for r in removals])
    return [r for r in removals if not done.get(r.key, (False, ""))[0]]


def apply_group_removals(
    session: Session,
    removals: list[GroupRemoval],
    remover: GraphGroupRemover,
    *,
    clock: Callable[[], datetime],
    operator: str,
) -> list[GroupResult]:
    """Take accounts out of licensing groups, recording (and committing) each result."""

    def record(result: GroupResult) -> None:
        record_action(
            session,
            resource_id=result.removal.key,
            action=LEAVE_GROUP,
            requested_at=clock(),
            ok=result.ok,
            detail=result.detail,
            requested_by=operator,
        )
        session.commit()

    return remover.remove(removals, on_result=record)


def _result(found: tuple[bool, str] | None) -> str:
    if found is None:
        return ""
    ok, detail = found
    return detail if ok else f"failed: {detail}"


def pending_licences(listed: pd.DataFrame) -> list[LicenseRemoval]:
    """The licences of the list not yet removed through Graph, grouped by account."""
    # A licence only inherited from a group cannot be removed from the user: it goes with the group.
    inherited_only = listed["via_group_id"].notna() & (
        listed["assigned_directly"].astype("boolean") == False  # noqa: E712 - NA stays NA
    ).fillna(False)
    todo = listed[
        (listed["resource_kind"] == model.ResourceKind.LICENSE.value)
        & ~listed["last_result"].isin(["removed", "already removed"])
        & ~inherited_only.to_numpy(bool)
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
