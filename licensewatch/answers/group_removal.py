"""Leaving licensing groups: group-inherited licences cannot be removed from the user.

``assignLicense`` refuses a licence the user inherits from a group (400 "User
license is inherited from a group membership"). For such a licence the account
leaves the group (``DELETE /groups/{id}/members/{userId}/$ref``, 204 No
Content; the app needs ``GroupMember.ReadWrite.All``) — but only when every
licence that group gives the account is approved for removal: leaving the
group takes them all. Otherwise the group removal is listed for the service
desk. A licence both direct and inherited is removed directly and its group
part handled here. Each attempt is recorded (action ``leave_group`` on
``group:<group id>:<account id>``); the next complete pull verifies the
licences are gone (``rules.removals``), nothing is assumed.

A 404 (``Request_ResourceNotFound``: not, or no longer, a member) is a result
(the next pull tells); a 403 stops every further removal (the permission is
missing), after the results so far were reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

import pandas as pd

from licensewatch import model
from licensewatch.graph.client import LazyGraph
from licensewatch.graph.errors import (
    GraphAuthError,
    GraphForbidden,
    GraphOutcomeUnknown,
    GraphRefused,
)
from licensewatch.logs import get_logger

log = get_logger(__name__)

LEAVE_GROUP: Final = "leave_group"
LEFT: Final = "left the group"
PERMISSION_HINT: Final = (
    "grant the app the GroupMember.ReadWrite.All application permission with admin consent, "
    "or set groups = false in [deprovision] and hand the group removals to the service desk"
)


@dataclass(frozen=True)
class GroupRemoval:
    """One account to take out of one licensing group, and the approved licences it gives."""

    account_id: str
    upn: str
    group_id: str
    group: str
    resource_ids: tuple[str, ...]

    @property
    def key(self) -> str:
        """Where its attempts are recorded (``deprovision_actions.resource_id``)."""
        return group_key(self.group_id, self.account_id)


@dataclass(frozen=True)
class GroupResult:
    """What happened to one group removal: ``detail`` is "left the group" or why not."""

    removal: GroupRemoval
    ok: bool
    detail: str


def group_key(group_id: str, account_id: str) -> str:
    """The recorded key of one account's membership of one group."""
    return f"group:{model.fold_key(group_id)}:{model.fold_key(account_id)}"


def plan_group_removals(
    listed: pd.DataFrame, findings: pd.DataFrame
) -> tuple[list[GroupRemoval], dict[str, str]]:
    """Which approved group licences can go by leaving the group, and why the others cannot.

    ``listed`` is the approved list (:func:`licensewatch.answers.deprovision.approved`),
    ``findings`` the last good run's findings. Returns the removals that may be
    applied and, per group key, the service desk's instruction for the others.
    """
    grouped = listed.loc[listed["via_group_id"].notna()]
    removals: list[GroupRemoval] = []
    desk: dict[str, str] = {}
    inherited = findings.loc[findings["via_group_id"].notna()]
    for (account, group_id), rows in grouped.groupby(["account_id", "via_group_id"], sort=True):
        gives = inherited.loc[
            (inherited["account_id"] == account) & (inherited["via_group_id"] == group_id)
        ]
        missing = sorted(set(gives["resource_id"]) - set(rows["resource_id"]))
        name = str(rows["via_group"].iloc[0])
        removal = GroupRemoval(
            str(account), str(rows["subject"].iloc[0]), str(group_id), name,
            tuple(sorted(rows["resource_id"].astype(str))),
        )  # fmt: skip
        if missing:
            other = ", ".join(str(m).rsplit(":", 1)[-1] for m in missing)
            desk[removal.key] = (
                f"service desk: remove from group {name} once its other licences are approved "
                f"({other})"
            )
        else:
            removals.append(removal)
    return removals, desk


class GraphGroupRemover:
    """Takes accounts out of licensing groups through Graph (see the module docstring)."""

    def __init__(self, graph: LazyGraph, graph_url: str) -> None:
        self._graph = graph
        self._url = graph_url

    def remove(
        self,
        removals: Sequence[GroupRemoval],
        *,
        on_result: Callable[[GroupResult], None] | None = None,
    ) -> list[GroupResult]:
        """One DELETE per removal; refusals are results, a 403 or lost answer raises."""
        results: list[GroupResult] = []

        def report(removal: GroupRemoval, ok: bool, detail: str) -> None:
            result = GroupResult(removal, ok, detail)
            results.append(result)
            if on_result is not None:
                on_result(result)

        for removal in removals:
            url = (
                f"{self._url}/groups/{quote(removal.group_id, safe='')}/members/"
                f"{quote(removal.account_id, safe='')}/$ref"
            )
            try:
                self._graph.client().delete(url)
            except GraphForbidden as exc:
                raise GraphAuthError(
                    f"Graph refused to take {removal.upn} out of group {removal.group}: "
                    f"{exc.message}",
                    hint=PERMISSION_HINT,
                ) from None
            except GraphRefused as exc:
                detail = f"HTTP {exc.status}" + (f" {exc.code}" if exc.code else "")
                detail += f": {exc.graph_message}" if exc.graph_message else ""
                log.warning("%s not taken out of group %s: %s", removal.upn, removal.group, detail)
                report(removal, False, detail)
                continue
            except GraphOutcomeUnknown as exc:
                report(removal, False, f"unknown: {exc.message}")
                raise
            log.info("%s taken out of licensing group %s", removal.upn, removal.group)
            report(removal, True, LEFT)
        return results

    def close(self) -> None:
        """Close the HTTP session, if a removal opened one."""
        self._graph.close()
