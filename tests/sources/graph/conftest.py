"""Fakes for the live Graph source: recorded identity-platform and Graph answers via ``responses``.

The payloads in ``tests/fixtures/graph_live/`` were built from the shared
wire-format samples (users pages, subscribedSkus, the 429 body, the usage-report
header) plus the documented shapes of the OpenID configuration, token answers
and Graph error bodies. Nothing here reaches a real tenant: ``responses`` refuses
any request that was not registered, and waits are recorded, never slept.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses

from licensewatch.config import SourceSettings
from licensewatch.sources.graph import typed_page
from licensewatch.sources.graph.live import GraphSource

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "graph_live"
TENANT = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
CLIENT = "11112222-bbbb-3333-cccc-4444dddd5555"
LOGIN = "https://login.microsoftonline.com"
OPENID_URL = f"{LOGIN}/{TENANT}/v2.0/.well-known/openid-configuration"
TOKEN_URL = f"{LOGIN}/{TENANT}/oauth2/v2.0/token"
DISCOVERY_URL = (
    f"{LOGIN}/common/discovery/instance?api-version=1.1"
    "&authorization_endpoint=https%3A%2F%2Flogin.microsoftonline.com%2Fcommon%2Foauth2%2Fauthorize"
)
GRAPH = "https://graph.microsoft.com/v1.0"
SECRET_ENV = "LW_TEST_GRAPH_SECRET"
SECRET = "Qx8~not-a-real-secret.value_123"
FIRST_TOKEN = json.loads((FIXTURES / "token.json").read_text())["access_token"]
SECOND_TOKEN = json.loads((FIXTURES / "token_refreshed.json").read_text())["access_token"]
FIELDS = (
    "id,userPrincipalName,mail,employeeId,displayName,department,accountEnabled,userType,"
    "createdDateTime,assignedLicenses"
)
#: The first users page with page_size = 3, with and without signInActivity.
USERS_URL = f"{GRAPH}/users?$select={FIELDS},signInActivity&$top=3"
USERS_NOSIGNIN_URL = f"{GRAPH}/users?$select={FIELDS}&$top=3"
SKUS_URL = f"{GRAPH}/subscribedSkus"
COUNT_URL = f"{GRAPH}/users/$count"
REPORT_URL = f"{GRAPH}/reports/getOffice365ActiveUserDetail(period='D180')"
DOWNLOAD_URL = "https://reportsncu.office.com/data/download/JDFKdf2_eJXKS034dbc7e0t__XDe?sig=abc"
NOW = datetime(2024, 12, 14, 8, 0, 0, tzinfo=UTC)


def raw(name: str) -> bytes:
    """A fixture file's bytes, exactly."""
    return (FIXTURES / name).read_bytes()


def doc(name: str) -> Any:
    """A fixture file's JSON."""
    return json.loads(raw(name))


def next_link(name: str) -> str:
    """The ``@odata.nextLink`` of a fixture page."""
    return str(doc(name)["@odata.nextLink"])


class Waits(list[float]):
    """A sleeper that records what it was asked to wait, and returns at once."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def graph_settings(base: Path, **options: Any) -> SourceSettings:
    """``[sources.accounts]`` of kind graph: a client secret, page_size 3, plus ``options``."""
    values: dict[str, Any] = {
        "tenant_id": TENANT,
        "client_id": CLIENT,
        "client_secret_env": SECRET_ENV,
        "page_size": 3,
    }
    values.update(options)
    return SourceSettings(feed="accounts", kind="graph", options=values, base_dir=base)


def make_source(
    settings: SourceSettings,
    waits: Waits,
    *,
    environ: Mapping[str, str] | None = None,
    stream: io.StringIO | None = None,
    draw: float = 0.5,
) -> GraphSource:
    """A GraphSource that never sleeps, draws ``draw`` for jitter and has a fixed clock."""
    return GraphSource(
        settings,
        environ={SECRET_ENV: SECRET} if environ is None else environ,
        sleep=waits,
        random=lambda: draw,
        clock=lambda: NOW,
        progress_stream=stream if stream is not None else io.StringIO(),
    )


@pytest.fixture(autouse=True)
def _graph_tests_never_sleep(no_real_sleep: None) -> None:
    """Every test below here refuses real sleep (``no_real_sleep``, tests/conftest.py)."""


@pytest.fixture
def waits() -> Waits:
    """The waits the source asked for."""
    return Waits()


def add_login(mock: responses.RequestsMock, *tokens: str) -> None:
    """The tenant's OpenID configuration and one token answer per name (default: token.json).

    After a token error MSAL looks for cached refresh tokens under the authority's
    aliases, which it asks the worldwide instance-discovery endpoint for.
    """
    mock.get(OPENID_URL, body=raw("openid_configuration.json"), content_type="application/json")
    for name in tokens or ("token.json",):
        status = 401 if "error" in name else 200
        mock.post(TOKEN_URL, body=raw(name), status=status, content_type="application/json")
    mock.get(DISCOVERY_URL, body=raw("instance_discovery.json"), content_type="application/json")


def add_json(
    mock: responses.RequestsMock,
    url: str,
    name: str,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> None:
    """A Graph GET answered with the fixture ``name``, byte for byte."""
    mock.get(url, body=raw(name), status=status, content_type="application/json", headers=headers)


def add_users(mock: responses.RequestsMock, *, sign_in: bool = True) -> None:
    """The three users pages (3 users, 2 users, empty), chained by @odata.nextLink, and $count 5."""
    prefix = "users_page" if sign_in else "users_nosignin_page"
    add_json(mock, USERS_URL if sign_in else USERS_NOSIGNIN_URL, f"{prefix}_1.json")
    add_json(mock, next_link(f"{prefix}_1.json"), f"{prefix}_2.json")
    add_json(mock, next_link(f"{prefix}_2.json"), f"{prefix}_3.json")
    add_count(mock, 5)


def add_count(mock: responses.RequestsMock, count: int, status: int = 200) -> None:
    """``GET /users/$count`` answered as Graph does: a text/plain integer (or an error body)."""
    if status == 200:
        mock.get(COUNT_URL, body=str(count), content_type="text/plain")
    else:
        mock.get(
            COUNT_URL,
            body=raw(f"error_{status}_denied.json"),
            status=status,
            content_type="application/json",
        )


def calls(mock: responses.RequestsMock) -> list[tuple[str, str]]:
    """(method, url) of every request sent, in order."""
    return [(c.request.method or "", c.request.url or "") for c in mock.calls]


def bearer(call: Any) -> str | None:
    """The Authorization header a request carried, if any."""
    value = call.request.headers.get("Authorization")
    return None if value is None else str(value)


def spy_on_decoding(monkeypatch: pytest.MonkeyPatch, name: str) -> list[bool]:
    """Watch ``typed_page.<name>``: one entry a page, whether it decoded (True) or not."""
    decode = getattr(typed_page, name)
    decoded: list[bool] = []

    def spy(data: bytes) -> Any:
        page = decode(data)
        decoded.append(page is not None)
        return page

    monkeypatch.setattr(typed_page, name, spy)
    return decoded
