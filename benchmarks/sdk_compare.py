"""Our Graph pull against Microsoft's Python SDK, reading the same pages from the same server.

``ours``: :class:`licensewatch.sources.graph.live.GraphSource` (MSAL client
credentials against the stand-in authority, then ``subscribedSkus`` and every
users page, ending in the canonical ACCOUNTS and ACCOUNT_LICENSES frames).
``sdk``: ``msgraph-sdk`` (``GraphServiceClient.users.get`` with the same
``$select`` and ``$top``, then ``msgraph_core.PageIterator`` over every page,
ending in a list of ``User`` objects; a static bearer token, so the SDK is
spared the token request). ``sdk-http``, like for like: the SDK's own HTTP
stack (httpx with msgraph-core's middleware) following ``@odata.nextLink``
and reading each page as raw JSON, no models: what the SDK's pull costs
without Kiota's model deserialization. Each client runs in its own process;
the figures are the pull's wall seconds (imports, the SDK's lazy ones
included, excluded and reported apart) and the process's peak resident
memory. Needs ``pip install ".[bench]"``.

    python -m benchmarks.sdk_compare --accounts 60000
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import io
import json
import ssl
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from benchmarks import harness
from benchmarks import org as orgs
from benchmarks.servers import CLIENT, TENANT, TOKEN
from licensewatch.night.stages import peak_rss_mb

SELECT = orgs.SELECT.split(",")
CLIENTS = ("ours", "sdk", "sdk-http")


def sdk_available() -> bool:
    """Whether msgraph-sdk is installed (``pip install ".[bench]"``)."""
    return importlib.util.find_spec("msgraph") is not None


def pull_ours(graph: str, ca_bundle: str) -> int:
    """Pull with licensewatch's Graph source; returns the number of accounts."""
    from licensewatch.config import SourceSettings
    from licensewatch.sources.graph.live import GraphSource

    settings = SourceSettings(
        feed="accounts",
        kind="graph",
        options={
            "tenant_id": TENANT,
            "client_id": CLIENT,
            "client_secret_env": harness.GRAPH_SECRET_ENV,
            "authority": graph,
            "graph_url": f"{graph}/v1.0",
            "ca_bundle": ca_bundle,
        },
        base_dir=Path.cwd(),
    )
    pulled = GraphSource(settings, progress_stream=io.StringIO()).pull()
    return len(pulled.accounts)


def sdk_modules() -> SimpleNamespace:
    """Every module of msgraph-sdk the pulls use, imported now (outside the timed pull).

    The SDK imports much lazily, its ``User`` model among them on the first
    deserialization: that is import cost, reported apart, not pull time.
    """
    # Imported here: msgraph-sdk is a bench extra, not a dependency of licensewatch.
    import httpx  # type: ignore[import-untyped,import-not-found,unused-ignore]
    from kiota_abstractions.authentication import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
        AccessTokenProvider,
        AllowedHostsValidator,
        BaseBearerTokenAuthenticationProvider,
    )
    from kiota_abstractions.base_request_configuration import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
        RequestConfiguration,
    )
    from msgraph.generated.models import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
        user,
        user_collection_response,
    )
    from msgraph.generated.users.users_request_builder import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
        UsersRequestBuilder,
    )
    from msgraph.graph_request_adapter import GraphRequestAdapter  # type: ignore[import-untyped,import-not-found,unused-ignore]
    from msgraph.graph_service_client import GraphServiceClient  # type: ignore[import-untyped,import-not-found,unused-ignore]
    from msgraph_core import GraphClientFactory  # type: ignore[import-untyped,import-not-found,unused-ignore]
    from msgraph_core.tasks.page_iterator import PageIterator  # type: ignore[import-untyped,import-not-found,unused-ignore]

    # The models' own lazy imports (their field deserializers) run once, here.
    user.User().get_field_deserializers()
    user_collection_response.UserCollectionResponse().get_field_deserializers()
    return SimpleNamespace(
        httpx=httpx,
        AccessTokenProvider=AccessTokenProvider,
        AllowedHostsValidator=AllowedHostsValidator,
        BaseBearerTokenAuthenticationProvider=BaseBearerTokenAuthenticationProvider,
        RequestConfiguration=RequestConfiguration,
        UsersRequestBuilder=UsersRequestBuilder,
        GraphRequestAdapter=GraphRequestAdapter,
        GraphServiceClient=GraphServiceClient,
        GraphClientFactory=GraphClientFactory,
        PageIterator=PageIterator,
    )


def _http(sdk: SimpleNamespace, ca_bundle: str) -> Any:
    """The SDK's own HTTP stack: httpx with msgraph-core's default middleware."""
    context = ssl.create_default_context(cafile=ca_bundle)
    return sdk.GraphClientFactory.create_with_default_middleware(
        client=sdk.httpx.AsyncClient(verify=context, timeout=60)
    )


async def _pull_sdk(graph: str, ca_bundle: str, sdk: SimpleNamespace) -> int:
    class StaticToken(sdk.AccessTokenProvider):  # type: ignore[misc,name-defined,unused-ignore]
        async def get_authorization_token(
            self, uri: str, additional_authentication_context: Any = None
        ) -> str:
            return TOKEN

        def get_allowed_hosts_validator(self) -> Any:
            return sdk.AllowedHostsValidator([])

    http = _http(sdk, ca_bundle)
    adapter = sdk.GraphRequestAdapter(
        sdk.BaseBearerTokenAuthenticationProvider(StaticToken()), http
    )
    adapter.base_url = f"{graph}/v1.0"
    client = sdk.GraphServiceClient(request_adapter=adapter)
    query = sdk.UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(select=SELECT, top=999)
    config = sdk.RequestConfiguration(query_parameters=query)
    first = await client.users.get(request_configuration=config)
    users: list[Any] = []

    def keep(user: Any) -> bool:
        users.append(user)
        return True

    await sdk.PageIterator(first, adapter).iterate(keep)
    await http.aclose()
    return len(users)


async def _pull_sdk_http(graph: str, ca_bundle: str, sdk: SimpleNamespace) -> int:
    """Like for like: the SDK's HTTP stack following nextLink, each page read as raw JSON."""
    http = _http(sdk, ca_bundle)
    url: str | None = f"{graph}/v1.0/users?$select={','.join(SELECT)}&$top=999"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    users = 0
    while url is not None:
        response = await http.get(url, headers=headers)
        response.raise_for_status()
        doc = response.json()
        users += len(doc["value"])
        url = doc.get("@odata.nextLink")
    await http.aclose()
    return users


def pull_sdk(graph: str, ca_bundle: str, sdk: SimpleNamespace) -> int:
    """Pull with msgraph-sdk and its page iterator; returns the number of users."""
    return asyncio.run(_pull_sdk(graph, ca_bundle, sdk))


def pull_sdk_http(graph: str, ca_bundle: str, sdk: SimpleNamespace) -> int:
    """Pull with the SDK's HTTP stack, raw JSON pages (no models); returns the number of users."""
    return asyncio.run(_pull_sdk_http(graph, ca_bundle, sdk))


def measure_client(client: str, graph: str, ca_bundle: str) -> dict[str, Any]:
    """Import and run one client in this process; seconds, imports and peak memory."""
    started = time.perf_counter()
    if client == "ours":
        import licensewatch.sources.graph.live  # noqa: F401  (import cost reported apart)

        imported = time.perf_counter()
        users = pull_ours(graph, ca_bundle)
    else:
        sdk = sdk_modules()
        imported = time.perf_counter()
        users = (pull_sdk if client == "sdk" else pull_sdk_http)(graph, ca_bundle, sdk)
    done = time.perf_counter()
    return {
        "client": client,
        "users": users,
        "import_s": imported - started,
        "seconds": done - imported,
        "peak_rss_mb": peak_rss_mb(),
    }


def compare(
    servers: harness.Servers, *, timeout: float = 3600.0, clients: tuple[str, ...] = CLIENTS
) -> list[dict[str, Any]]:
    """Run the clients, each in a fresh process, against ``servers``; one row per client."""
    rows = []
    for client in clients:
        if client != "ours" and not sdk_available():
            continue
        before = servers.stats()
        proc = harness.run_module(
            "benchmarks.sdk_compare",
            "--client",
            client,
            "--graph",
            servers.graph,
            "--ca-bundle",
            servers.ca_bundle,
            timeout=timeout,
        )
        row: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        row["requests"] = harness.diff(servers.stats(), before)["graph"]
        rows.append(row)
    return rows


def requests_made(counts: dict[str, int]) -> int:
    """HTTP requests answered, from a Graph hit counter (dotted keys are sub-counts)."""
    return sum(v for k, v in counts.items() if "." not in k)


def table(rows: list[dict[str, Any]], pages: int) -> str:
    """The comparison as text: seconds, users/s, peak memory, requests."""
    lines = [
        f"{'client':<34} {'users':>9} {'pull s':>8} {'users/s':>9} {'import s':>9} "
        f"{'peak MiB':>9} {'pages':>6} {'requests':>9}"
    ]
    names = {
        "ours": "licensewatch GraphSource → frames",
        "sdk": "msgraph-sdk PageIterator → User",
        "sdk-http": "msgraph-sdk HTTP stack → raw JSON",
    }
    for r in rows:
        req = r["requests"]
        lines.append(
            f"{names[r['client']]:<34} {r['users']:>9,} {r['seconds']:>8.2f} "
            f"{r['users'] / max(r['seconds'], 1e-9):>9,.0f} {r['import_s']:>9.2f} "
            f"{r['peak_rss_mb']:>9,.0f} {req.get('users.pages', 0):>6} {requests_made(req):>9}"
        )
    by = {r["client"]: r for r in rows}
    if len(by) == 3:
        lines.append(
            f"ours is {by['sdk']['seconds'] / by['ours']['seconds']:.1f}x faster than the SDK's "
            f"models and uses {by['sdk']['peak_rss_mb'] / by['ours']['peak_rss_mb']:.1f}x less "
            f"peak memory; like for like (the SDK's HTTP stack, raw JSON) "
            f"{by['sdk-http']['seconds']:.2f} s vs our {by['ours']['seconds']:.2f} s "
            f"({pages} pages on the server)"
        )
    elif "ours" in by and "sdk-http" in by:
        lines.append(
            f"like for like (the SDK's HTTP stack, raw JSON): {by['sdk-http']['seconds']:.2f} s "
            f"vs our {by['ours']['seconds']:.2f} s ({pages} pages on the server)"
        )
    elif not sdk_available():
        lines.append("msgraph-sdk is not installed: pip install '.[bench]' to compare")
    return "\n".join(lines)


def main() -> None:
    """``--accounts N`` for a whole comparison, or ``--client`` to measure one (internal)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=60_000)
    parser.add_argument("--work", type=Path, help="folder for the organization (default: /tmp)")
    parser.add_argument(
        "--clients",
        nargs="+",
        choices=CLIENTS,
        default=list(CLIENTS),
        help="which clients, in order",
    )
    parser.add_argument("--client", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--graph", help=argparse.SUPPRESS)
    parser.add_argument("--ca-bundle", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        print(json.dumps(measure_client(args.client, args.graph, args.ca_bundle)))
        return
    with tempfile.TemporaryDirectory(prefix="lw-bench-", dir=args.work) as tmp:
        work = Path(tmp)
        org = orgs.build(work / "org", args.accounts, as_of=date(2019, 12, 31))
        with harness.servers(org.root, work) as srv:
            rows = compare(srv, clients=tuple(args.clients))
    print(f"Graph pull of {org.users:,} users ({org.pages} pages), same local server:")
    print(table(rows, org.pages))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
