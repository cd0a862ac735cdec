"""Licence removal with Microsoft Graph ``assignLicense`` (``removeLicenses``), one POST an account.

``POST /users/{id}/assignLicense`` with ``{"addLicenses": [], "removeLicenses":
[sku ids]}`` answers 200 with the user. ``addLicenses`` must be present even
when empty (Graph answers 400 ``Request_BadRequest`` "One or more parameters
of the operation 'assignLicense' are missing" otherwise). A licence a user
inherits from a group cannot be removed from the user (400 "User license is
inherited from a group membership and it cannot be removed directly from the
user."); an unknown user is 404 ``Request_ResourceNotFound``. Such refusals are
results, not errors: the remover reports them and goes on with the next
account. What stops every further removal (token refused, 403, retries spent,
a request sent without a usable answer) raises instead, after the results so
far were handed to ``on_result``.

The app needs the ``LicenseAssignment.ReadWrite.All`` (or ``User.ReadWrite.All``)
application permission.
"""

from __future__ import annotations

import random as _random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import requests

from licensewatch.graph import client as graph_http
from licensewatch.graph.auth import load_credential
from licensewatch.graph.client import GraphHttp
from licensewatch.graph.errors import (
    GraphAuthError,
    GraphForbidden,
    GraphOutcomeUnknown,
    GraphRefused,
)
from licensewatch.graph.options import GraphOptions
from licensewatch.logs import get_logger

log = get_logger(__name__)

REMOVED = "removed"
PERMISSION_HINT = (
    "grant the app the LicenseAssignment.ReadWrite.All application permission (or "
    "User.ReadWrite.All) with admin consent"
)


@dataclass(frozen=True)
class LicenseRemoval:
    """The licences to take from one account: its Graph user id, UPN and SKU ids (GUIDs)."""

    account_id: str
    upn: str
    sku_ids: tuple[str, ...]


@dataclass(frozen=True)
class RemovalResult:
    """What happened to one licence of one account.

    ``detail`` is ``"removed"``, or why not: Graph's status, error code and
    message, or why the request was not sent. It never holds a token.
    """

    account_id: str
    sku_id: str
    ok: bool
    detail: str


class GraphLicenseRemover:
    """Removes licences with Graph ``assignLicense`` (see the module docstring).

    The credential is loaded at construction (``ConfigError`` before any
    network call); the session and token on the first removal. ``environ``,
    ``session_factory``, ``sleep``, ``random`` and ``clock`` are injectable so
    tests never wait.
    """

    def __init__(
        self,
        options: GraphOptions,
        *,
        environ: Mapping[str, str] | None = None,
        session_factory: Callable[[], requests.Session] = requests.Session,
        sleep: Callable[[float], None] | None = None,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.options = options
        self._credential = load_credential(options, environ)
        self._graph = graph_http.LazyGraph(
            options,
            self._credential,
            session_factory=session_factory,
            sleep=sleep,
            random=random,
            clock=clock,
        )

    def remove(
        self,
        removals: Sequence[LicenseRemoval],
        *,
        on_result: Callable[[RemovalResult], None] | None = None,
    ) -> list[RemovalResult]:
        """Remove each account's licences; one result per SKU, in order.

        ``on_result`` is called with each result as soon as it is known, so a
        caller can record progress that survives an abort. Raises
        ``GraphAuthError`` (token refused, 403) or ``GraphUnavailable``
        (retries spent; ``GraphOutcomeUnknown`` when a request got no usable
        answer, after reporting that account's licences as not confirmed);
        both are the matching ``SourceError`` too (see :mod:`licensewatch.graph.errors`).
        """
        results: list[RemovalResult] = []

        def report(removal: LicenseRemoval, skus: Sequence[str], ok: bool, detail: str) -> None:
            for sku in skus:
                result = RemovalResult(removal.account_id, sku, ok, detail)
                results.append(result)
                if on_result is not None:
                    on_result(result)

        for removal in removals:
            valid = [s for s in removal.sku_ids if _is_guid(s)]
            bad = [s for s in removal.sku_ids if not _is_guid(s)]
            report(removal, bad, False, "not a SKU id (GUID): not sent to Graph")
            if not valid:
                continue
            try:
                self._post(removal, valid)
            except GraphRefused as exc:
                detail = f"HTTP {exc.status}" + (f" {exc.code}" if exc.code else "")
                detail += f": {exc.graph_message}" if exc.graph_message else ""
                log.warning("licences of %s not removed: %s", removal.upn, detail)
                report(removal, valid, False, detail)
                continue
            except GraphOutcomeUnknown as exc:
                report(removal, valid, False, f"unknown: {exc.message}")
                raise
            log.info("removed %d licence(s) from %s", len(valid), removal.upn)
            report(removal, valid, True, REMOVED)
        return results

    def close(self) -> None:
        """Close the HTTP session, if a removal opened one."""
        self._graph.close()

    def __enter__(self) -> GraphLicenseRemover:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _post(self, removal: LicenseRemoval, skus: Sequence[str]) -> None:
        url = f"{self.options.graph_url}/users/{quote(removal.account_id, safe='@')}/assignLicense"
        try:
            self._client().post_json(url, {"addLicenses": [], "removeLicenses": list(skus)})
        except GraphForbidden as exc:
            raise GraphAuthError(
                f"Graph refused to remove licences ({removal.upn}): {exc.message}",
                hint=PERMISSION_HINT,
            ) from None

    def _client(self) -> GraphHttp:
        return self._graph.client()


_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _is_guid(text: str) -> bool:
    return isinstance(text, str) and _GUID.fullmatch(text) is not None
