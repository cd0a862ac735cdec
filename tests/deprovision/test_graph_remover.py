"""Licence removal with Graph assignLicense: one POST an account, refusals reported, aborts raised.

Graph and the identity platform are faked with ``responses`` (the Graph
source's recorded token answers); nothing reaches a tenant and no test waits.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from licensewatch.answers.licence_removal import GraphLicenseRemover, LicenseRemoval, RemovalResult
from licensewatch.config import SourceSettings
from licensewatch.errors import ConfigError, SourceAuthError, SourceUnavailable
from licensewatch.graph.errors import GraphOutcomeUnknown
from licensewatch.graph.options import GraphOptions
from tests.sources.graph.conftest import (
    CLIENT,
    FIRST_TOKEN,
    GRAPH,
    OPENID_URL,
    SECRET,
    SECRET_ENV,
    TENANT,
    TOKEN_URL,
    Waits,
    add_login,
    bearer,
    calls,
    raw,
)

pytestmark = pytest.mark.usefixtures("no_real_sleep")  # tests/conftest.py

E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"  # SPE_E3
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"  # EMSPREMIUM
VISIO = "c5928f49-12ba-48f7-ada3-0d743a3601d5"  # VISIOCLIENT
ADELE = LicenseRemoval("87d349ed-44d7-43e1-9a83-5f2406dee5bd", "AdeleV@contoso.com", (E3, EMS))
ALEX = LicenseRemoval("6e7b768e-07e2-4810-8459-485f84f8f204", "AlexW@contoso.com", (VISIO,))
MEGAN = LicenseRemoval("48d31887-5fad-4d73-a9f5-3c356e68a038", "MeganB@contoso.com", (E3,))
LOGIN = [("GET", OPENID_URL), ("POST", TOKEN_URL)]
INHERITED = (
    "User license is inherited from a group membership and it cannot be removed directly "
    "from the user."
)


def url(removal: LicenseRemoval) -> str:
    """The account's assignLicense action."""
    return f"{GRAPH}/users/{removal.account_id}/assignLicense"


def user(removal: LicenseRemoval) -> dict[str, Any]:
    """The documented 200 answer: the user object."""
    return {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
        "id": removal.account_id,
        "userPrincipalName": removal.upn,
        "businessPhones": [],
    }


def error(code: str, message: str) -> dict[str, Any]:
    """A Graph error body."""
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"date": "2024-12-14T08:00:05", "request-id": "0c1d2e3f"},
        }
    }


@pytest.fixture
def waits() -> Waits:
    """The waits the remover asked for."""
    return Waits()


def graph_options(tmp_path: Path, **extra: Any) -> GraphOptions:
    """``[sources.accounts]`` of kind graph with a client secret."""
    values = {"tenant_id": TENANT, "client_id": CLIENT, "client_secret_env": SECRET_ENV, **extra}
    return GraphOptions.from_settings(SourceSettings("accounts", "graph", values, tmp_path))


def remover(tmp_path: Path, waits: Waits, **extra: Any) -> GraphLicenseRemover:
    """A remover that never sleeps and draws 0.5 for jitter."""
    return GraphLicenseRemover(
        graph_options(tmp_path, **extra),
        environ={SECRET_ENV: SECRET},
        sleep=waits,
        random=lambda: 0.5,
    )


def sent(call: Any) -> Any:
    """The JSON body of a recorded request."""
    return json.loads(call.request.body)


def test_one_post_per_account_removes_every_sku(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    rsps.post(url(ADELE), json=user(ADELE))
    rsps.post(url(ALEX), json=user(ALEX))
    recorded: list[RemovalResult] = []
    with remover(tmp_path, waits) as graph:
        results = graph.remove([ADELE, ALEX], on_result=recorded.append)

    assert calls(rsps) == [*LOGIN, ("POST", url(ADELE)), ("POST", url(ALEX))]
    # addLicenses must be there even when empty, or Graph answers 400 Request_BadRequest.
    assert sent(rsps.calls[2]) == {"addLicenses": [], "removeLicenses": [E3, EMS]}
    assert sent(rsps.calls[3]) == {"addLicenses": [], "removeLicenses": [VISIO]}
    assert all(bearer(c) == f"Bearer {FIRST_TOKEN}" for c in rsps.calls[2:4])
    assert results == [
        RemovalResult(ADELE.account_id, E3, True, "removed"),
        RemovalResult(ADELE.account_id, EMS, True, "removed"),
        RemovalResult(ALEX.account_id, VISIO, True, "removed"),
    ]
    assert recorded == results and waits == []


def test_group_inherited_licence_is_reported_and_the_next_account_goes_on(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    rsps.post(url(ADELE), status=400, json=error("Request_BadRequest", INHERITED))
    rsps.post(url(ALEX), json=user(ALEX))
    with remover(tmp_path, waits) as graph:
        results = graph.remove([ADELE, ALEX])
    detail = f"HTTP 400 Request_BadRequest: {INHERITED}"
    assert results == [
        RemovalResult(ADELE.account_id, E3, False, detail),
        RemovalResult(ADELE.account_id, EMS, False, detail),
        RemovalResult(ALEX.account_id, VISIO, True, "removed"),
    ]
    assert waits == [] and len(rsps.calls) == 4  # a refusal is not retried


def test_unknown_user_is_reported_and_the_next_account_goes_on(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    gone = f"Resource '{ALEX.account_id}' does not exist or one of its queried reference-property"
    rsps.post(url(ALEX), status=404, json=error("Request_ResourceNotFound", gone))
    rsps.post(url(MEGAN), json=user(MEGAN))
    with remover(tmp_path, waits) as graph:
        results = graph.remove([ALEX, MEGAN])
    assert [(r.account_id, r.ok) for r in results] == [
        (ALEX.account_id, False),
        (MEGAN.account_id, True),
    ]
    assert results[0].detail == f"HTTP 404 Request_ResourceNotFound: {gone}"


def test_a_licence_already_gone_is_reported_with_graphs_words(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    # Only public scripts, not Microsoft's documentation, show this wording: it is
    # reported as Graph said it, not reinterpreted as "already removed".
    add_login(rsps)
    message = "User does not have a corresponding license."
    rsps.post(url(MEGAN), status=400, json=error("Request_BadRequest", message))
    with remover(tmp_path, waits) as graph:
        (result,) = graph.remove([MEGAN])
    assert not result.ok and result.detail == f"HTTP 400 Request_BadRequest: {message}"


def test_429_waits_for_retry_after_then_removes(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    rsps.post(
        url(MEGAN),
        status=429,
        body=raw("error_429.json"),
        content_type="application/json",
        headers={"Retry-After": "2.128"},
    )
    rsps.post(url(MEGAN), json=user(MEGAN))
    with remover(tmp_path, waits) as graph:
        results = graph.remove([MEGAN])
    assert waits == [2.128]
    assert calls(rsps)[2:] == [("POST", url(MEGAN))] * 2
    assert results == [RemovalResult(MEGAN.account_id, E3, True, "removed")]


def test_403_aborts_after_recording_what_was_done(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    rsps.post(url(ADELE), json=user(ADELE))
    rsps.post(
        url(ALEX), status=403, body=raw("error_403_denied.json"), content_type="application/json"
    )
    rsps.post(url(MEGAN), json=user(MEGAN))
    recorded: list[RemovalResult] = []
    with remover(tmp_path, waits) as graph, pytest.raises(SourceAuthError) as caught:
        graph.remove([ADELE, ALEX, MEGAN], on_result=recorded.append)
    assert "Authorization_RequestDenied" in caught.value.message
    assert ALEX.upn in caught.value.message
    assert caught.value.hint is not None and "LicenseAssignment.ReadWrite.All" in caught.value.hint
    assert [(r.account_id, r.sku_id, r.ok) for r in recorded] == [
        (ADELE.account_id, E3, True),
        (ADELE.account_id, EMS, True),
    ]
    assert ("POST", url(MEGAN)) not in calls(rsps)


def test_no_answer_after_sending_is_not_retried_and_aborts(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    rsps.post(url(ALEX), body=requests.ReadTimeout("read timed out"))
    rsps.post(url(ALEX), json=user(ALEX))
    recorded: list[RemovalResult] = []
    with remover(tmp_path, waits) as graph, pytest.raises(GraphOutcomeUnknown) as caught:
        graph.remove([ALEX, MEGAN], on_result=recorded.append)
    assert isinstance(caught.value, SourceUnavailable)
    assert "may or may not have been processed" in caught.value.message
    assert waits == [] and calls(rsps)[2:] == [("POST", url(ALEX))]
    (unknown,) = recorded
    assert unknown.account_id == ALEX.account_id and not unknown.ok
    assert unknown.detail.startswith("unknown: ") and "ReadTimeout" in unknown.detail


def test_spent_retry_budget_aborts(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    rsps.post(url(ALEX), status=503, body=raw("error_503.json"))
    with remover(tmp_path, waits, max_retries=1) as graph, pytest.raises(SourceUnavailable):
        graph.remove([ALEX])
    assert waits == [0.75] and calls(rsps)[2:] == [("POST", url(ALEX))] * 2


def test_a_refused_credential_aborts_before_any_removal(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    add_login(rsps, "token_error_invalid_client.json")
    with remover(tmp_path, waits) as graph, pytest.raises(SourceAuthError) as caught:
        graph.remove([ALEX])
    assert "invalid_client" in caught.value.message
    assert not [u for _, u in calls(rsps) if u.startswith(GRAPH)]
    for text in (caplog.text, caught.value.one_line()):
        assert SECRET not in text and FIRST_TOKEN not in text


def test_skus_that_are_not_guids_are_not_sent(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    rsps.post(url(ADELE), json=user(ADELE))
    odd = LicenseRemoval(ADELE.account_id, ADELE.upn, ("SPE_E3", E3))
    only_odd = LicenseRemoval(ALEX.account_id, ALEX.upn, ("",))
    with remover(tmp_path, waits) as graph:
        results = graph.remove([odd, only_odd, LicenseRemoval(MEGAN.account_id, MEGAN.upn, ())])
    assert calls(rsps)[2:] == [("POST", url(ADELE))]
    assert sent(rsps.calls[2])["removeLicenses"] == [E3]
    assert [(r.sku_id, r.ok) for r in results] == [("SPE_E3", False), (E3, True), ("", False)]
    assert results[0].detail == "not a SKU id (GUID): not sent to Graph"


def test_credential_is_checked_at_construction_and_close_is_safe(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=SECRET_ENV):
        GraphLicenseRemover(graph_options(tmp_path), environ={})
    graph = GraphLicenseRemover(graph_options(tmp_path), environ={SECRET_ENV: SECRET})
    graph.close()
    graph.close()
