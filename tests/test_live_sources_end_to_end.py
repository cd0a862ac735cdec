"""The CLI end to end with the live kinds (graph, cucm) against recorded wire formats.

The tiny organization of ``tests/orgfiles.py`` is read live: its users are
served as Microsoft Graph pages, its phones as AXL ``executeSQLQuery`` rows
and RisPort70 answers, every exchange through ``responses`` (anything not
registered is refused). Checked: a saved pull replays to byte-identical
reports (issues 3 and 4), a pull that keeps failing changes nothing, and the
secrets end up nowhere an operator or a log shipper could read them.
Nothing sleeps: real ``time.sleep`` fails the test, and the CUCM source gets
a fake clock.
"""

from __future__ import annotations

import base64
import csv
import functools
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

import pytest
import responses

from licensewatch import logs, sources
from licensewatch.cli import parser as cli
from licensewatch.cli.parser import main
from licensewatch.errors import EXIT_RUNTIME
from licensewatch.sources.cucm.live import CucmSource
from tests import orgfiles
from tests.sources.cucm.conftest import (
    AXL_URL,
    PASSWORD,
    PASSWORD_ENV,
    RIS_URL,
    USER,
    Dev,
    FakeClock,
    Node,
    fixture,
    ris_response,
    selected,
    sql_response,
)
from tests.sources.graph.conftest import (
    CLIENT,
    FIRST_TOKEN,
    GRAPH,
    SECRET,
    SECRET_ENV,
    SKUS_URL,
    TENANT,
    TOKEN_URL,
    add_login,
)
from tests.test_cli import db_counts

pytestmark = pytest.mark.usefixtures("no_real_sleep")  # tests/conftest.py

AS_OF = orgfiles.AS_OF
PAGE_SIZE = 5
USERS_URL = f"{GRAPH}/users?$select={orgfiles.SELECT}&$top={PAGE_SIZE}"
REPORTS = ("findings.csv", "finance_summary.csv", "unassigned.csv", "leavers_without_account.csv")
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")

EXPORT_ACCOUNTS = '[sources.accounts]\nkind = "graph-export"\npath = "exports/graph"\n'
CSV_PHONES = (
    '[sources.phones]\nkind = "csv"\npath = "exports/phones.csv"\nowner_match = "upn_local_part"\n'
)
GRAPH_ACCOUNTS = f"""[sources.accounts]
kind = "graph"
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
client_secret_env = "{SECRET_ENV}"
page_size = {PAGE_SIZE}
max_retries = 2
"""
CUCM_PHONES = f"""[sources.phones]
kind = "cucm"
axl_url = "{AXL_URL}"
username = "{USER}"
password_env = "{PASSWORD_ENV}"
owner_match = "upn_local_part"
max_retries = 2
"""


def epoch(text: str) -> int:
    """Epoch seconds of a UTC ISO time, as AXL and RisPort write them."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


#: The phones of orgfiles.PHONES as AXL's inventory query returns them.
SQL_ROWS: list[dict[str, str | None]] = [
    {
        "name": "SEP000000000001",
        "description": "Alice desk",
        "model": "Cisco 8845",
        "devicepool": "DP_FIN",
        "owner": "alice",
        "dnorpattern": "1001",
        "lastseen": str(epoch("2019-12-30T07:00:00")),
    },
    {
        "name": "SEP000000000002",
        "description": "Bob desk",
        "model": "Cisco 8845",
        "devicepool": "DP_FIN",
        "owner": "bob",
        "dnorpattern": "1002",
        "lastseen": str(epoch("2019-12-30T07:00:00")),
    },
    {
        # No owner, last registered a year ago, and no node knows it any more.
        "name": "SEP000000000003",
        "description": "Legal lobby",
        "model": "Cisco 7841",
        "devicepool": "DP_LEGAL",
        "owner": None,
        "dnorpattern": "1003",
        "lastseen": str(epoch("2019-01-01T00:00:00")),
    },
    {
        "name": "SEP000000000004",
        "description": "Carol desk",
        "model": "Cisco 7841",
        "devicepool": "DP_LEGAL",
        "owner": "carol",
        "dnorpattern": "1004",
        "lastseen": str(epoch("2019-12-01T00:00:00")),
    },
]
#: What RisPort says about them: two registered, Carol's unregistered since 2019-12-01.
RIS_NODES = [
    Node(
        "cucm-sub1",
        [
            Dev("SEP000000000001", "Registered", epoch("2019-12-30T07:00:00")),
            Dev("SEP000000000002", "Registered", epoch("2019-12-30T07:05:00")),
        ],
    ),
    Node("cucm-sub2", [Dev("SEP000000000004", "UnRegistered", epoch("2019-12-01T00:00:00"))]),
]


def config_with(*, accounts: str = EXPORT_ACCOUNTS, phones: str = CSV_PHONES) -> str:
    """orgfiles.CONFIG with its [sources.accounts] and [sources.phones] tables replaced."""
    assert EXPORT_ACCOUNTS in orgfiles.CONFIG and CSV_PHONES in orgfiles.CONFIG
    return orgfiles.CONFIG.replace(EXPORT_ACCOUNTS, accounts).replace(CSV_PHONES, phones)


def replay_accounts(folder: Path) -> str:
    """[sources.accounts] replaying a saved Graph pull."""
    return f'[sources.accounts]\nkind = "graph-export"\npath = "{folder.as_posix()}"\n'


def replay_phones(folder: Path) -> str:
    """[sources.phones] replaying a saved CUCM pull."""
    return (
        f'[sources.phones]\nkind = "cucm-export"\npath = "{folder.as_posix()}"\n'
        'owner_match = "upn_local_part"\n'
    )


def write_config(root: Path, name: str, text: str) -> Path:
    """A second config file beside an organization's own."""
    path = root / name
    path.write_text(text, encoding="utf-8")
    return path


def graph_pages(tmp_path: Path) -> dict[str, bytes]:
    """orgfiles.USERS as two Graph users pages and subscribedSkus, byte for byte."""
    folder = orgfiles.write_org(tmp_path / "served").parent / "exports" / "graph"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def serve_graph(mock: responses.RequestsMock, pages: dict[str, bytes]) -> None:
    """The identity platform, subscribedSkus, the two users pages and their $count."""
    add_login(mock)
    mock.get(SKUS_URL, body=pages["subscribedSkus.json"], content_type="application/json")
    first = pages["users_0001.json"]
    mock.get(USERS_URL, body=first, content_type="application/json")
    mock.get(
        json.loads(first)["@odata.nextLink"],
        body=pages["users_0002.json"],
        content_type="application/json",
    )
    users = sum(len(json.loads(pages[n])["value"]) for n in ("users_0001.json", "users_0002.json"))
    mock.get(f"{GRAPH}/users/$count", body=str(users), content_type="text/plain")


def serve_axl(mock: responses.RequestsMock) -> None:
    """AXL answers the inventory query with the four phones."""
    mock.post(AXL_URL, body=sql_response(SQL_ROWS), content_type="text/xml; charset=utf-8")


def serve_cucm(mock: responses.RequestsMock) -> None:
    """AXL and RisPort of a healthy cluster."""
    serve_axl(mock)
    mock.post(
        RIS_URL,
        body=ris_response(RIS_NODES, state_info="state-1"),
        content_type="text/xml; charset=utf-8",
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def expected_rows(reports: Path) -> set[tuple[str, str, str, str, str]]:
    return {
        (r["department"], r["subject"], r["reasons"], r["item"], r["annual_cost_usd"])
        for r in read_csv(reports / "findings.csv")
    }


def run(config: Path, *extra: str) -> int:
    return main(["run", "--config", str(config), "--as-of", AS_OF, *extra])


def pull(config: Path, save: Path) -> int:
    return main(["pull", "--config", str(config), "--save", str(save)])


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (relative name → bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def cucm_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Every CucmSource the CLI builds gets this fake clock and sleeper (its defaults are real)."""
    clock = FakeClock()
    monkeypatch.setitem(
        sources.PHONES_KINDS, "cucm", functools.partial(CucmSource, clock=clock, sleep=clock.sleep)
    )
    return clock


@pytest.fixture
def http(rsps: responses.RequestsMock) -> responses.RequestsMock:
    """The suite's ``rsps`` (tests/conftest.py) under this file's name."""
    return rsps


@pytest.fixture(autouse=True)
def logging_state(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """Capture the CLI's records in caplog; restore the licensewatch logger and masks after.

    ``main`` replaces the licensewatch logger's handlers and stops propagation, so
    caplog is put back first among them: it sees every record before masking.
    """
    caplog.set_level(logging.DEBUG)
    logs.forget_secrets()
    logger = logging.getLogger(logs.LOGGER_NAME)
    saved = (list(logger.handlers), logger.propagate, logger.level)

    def setup(level: str = "INFO", fmt: str = "text") -> None:
        logs.setup_logging(level, fmt)
        logger.handlers.insert(0, caplog.handler)

    monkeypatch.setattr(cli, "setup_logging", setup)
    yield
    logger.handlers[:] = saved[0]
    logger.propagate = saved[1]
    logger.setLevel(saved[2])


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def test_graph_pull_replays_to_byte_identical_reports(
    tmp_path: Path, http: responses.RequestsMock, secrets_env: None
) -> None:
    pages = graph_pages(tmp_path)
    serve_graph(http, pages)

    live = orgfiles.write_org(tmp_path / "live", config=config_with(accounts=GRAPH_ACCOUNTS))
    assert run(live) == 0
    live_reports = live.parent / "reports" / AS_OF
    assert expected_rows(live_reports) == orgfiles.EXPECTED
    graph_calls = [u for c in http.calls if (u := c.request.url or "").startswith(GRAPH)]
    assert graph_calls == [
        SKUS_URL,
        USERS_URL,
        json.loads(pages["users_0001.json"])["@odata.nextLink"],
        f"{GRAPH}/users/$count",
    ]

    other = orgfiles.write_org(tmp_path / "other", config=config_with(accounts=GRAPH_ACCOUNTS))
    saved = tmp_path / "pulls" / AS_OF
    assert pull(other, saved) == 0
    # The raw answers, exactly as served; nothing else (no staging folder left over).
    # The raw answers, exactly as served, plus the manifest of their page chain.
    recorded = files_under(saved / "accounts")
    manifest = json.loads(recorded.pop("manifest.json"))
    assert recorded == pages
    assert [p["file"] for p in manifest["pages"]] == ["users_0001.json", "users_0002.json"]
    assert manifest["count"] == manifest["users"] == len(orgfiles.USERS)
    assert sorted(files_under(saved)) == sorted(
        [f"accounts/{k}" for k in pages] + ["accounts/manifest.json"]
    )

    replay = write_config(
        other.parent, "replay.toml", config_with(accounts=replay_accounts(saved / "accounts"))
    )
    before = len(http.calls)
    assert run(replay) == 0
    assert len(http.calls) == before  # the replay reads files only
    replay_reports = other.parent / "reports" / AS_OF
    for name in REPORTS:
        assert (replay_reports / name).read_bytes() == (live_reports / name).read_bytes(), name


def test_cucm_pull_replays_to_byte_identical_reports(
    tmp_path: Path, http: responses.RequestsMock, cucm_clock: FakeClock, secrets_env: None
) -> None:
    serve_cucm(http)

    live = orgfiles.write_org(tmp_path / "live", config=config_with(phones=CUCM_PHONES))
    assert run(live) == 0
    live_reports = live.parent / "reports" / AS_OF
    # The live phones give the same findings as the CSV inventory they mirror.
    assert expected_rows(live_reports) == orgfiles.EXPECTED
    assert [c.request.url for c in http.calls] == [AXL_URL, RIS_URL]
    assert selected(http.calls[1]) == [row["name"] for row in SQL_ROWS]
    assert all(c.request.headers["Authorization"].startswith("Basic ") for c in http.calls)
    assert cucm_clock.sleeps == []

    other = orgfiles.write_org(tmp_path / "other", config=config_with(phones=CUCM_PHONES))
    saved = tmp_path / "pulls" / AS_OF
    assert pull(other, saved) == 0
    manifest = json.loads((saved / "phones" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["complete"] is True and manifest["phones"] == len(SQL_ROWS)
    assert (saved / "phones" / "axl_0001.xml").read_bytes() == sql_response(SQL_ROWS)
    assert sorted(files_under(saved)) == [
        "phones/axl_0001.xml",
        "phones/manifest.json",
        "phones/risport_0001.xml",
    ]

    replay = write_config(
        other.parent, "replay.toml", config_with(phones=replay_phones(saved / "phones"))
    )
    before = len(http.calls)
    assert run(replay) == 0
    assert len(http.calls) == before
    replay_reports = other.parent / "reports" / AS_OF
    for name in REPORTS:
        assert (replay_reports / name).read_bytes() == (live_reports / name).read_bytes(), name


RISPORT_FAILURES = [
    pytest.param(
        500,
        b"<html><body><h1>HTTP Status 500 - Internal Server Error</h1></body></html>",
        "HTTP 500",
        None,  # backoff with jitter
        id="http-500",
    ),
    pytest.param(
        500,
        fixture("risport_ratelimit_fault.xml"),
        "Exceeded allowed rate",
        [60.0, 60.0],  # rate control: a full minute each time
        id="soap-fault",
    ),
]


@pytest.mark.parametrize(("status", "body", "why", "waits"), RISPORT_FAILURES)
def test_failing_cucm_pull_exits_1_and_changes_nothing(
    tmp_path: Path,
    http: responses.RequestsMock,
    cucm_clock: FakeClock,
    secrets_env: None,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    status: int,
    body: bytes,
    why: str,
    waits: list[float] | None,
) -> None:
    org = orgfiles.write_org(tmp_path / "org")
    earlier = "2019-12-30"
    assert main(["run", "--config", str(org), "--as-of", earlier]) == 0
    root = org.parent
    before_db = db_counts(root / "licensewatch.db")
    assert before_db["runs"] == 1 and before_db["findings"] > 0
    before_reports = files_under(root / "reports")
    before_outbox = files_under(root / "outbox")
    assert len(before_outbox) == 3
    capsys.readouterr()
    caplog.clear()

    orgfiles.write_org(root, config=config_with(phones=CUCM_PHONES))
    serve_axl(http)
    http.post(RIS_URL, status=status, body=body, content_type="text/xml; charset=utf-8")

    assert run(org) == EXIT_RUNTIME == 1

    captured = capsys.readouterr()
    err_lines = captured.err.splitlines()
    not_logs = [line for line in err_lines if not LOG_LINE.match(line)]
    assert len(not_logs) == 1, captured.err
    error = not_logs[0]
    assert error.startswith("licensewatch: error: RisPort selectCmDeviceExt kept failing")
    assert why in error and "after 2 retries" in error
    assert "Traceback" not in captured.err and "Traceback" not in caplog.text
    # First try plus two retries, waited on the fake clock only.
    assert [c.request.url for c in http.calls] == [AXL_URL] + [RIS_URL] * 3
    assert len(cucm_clock.sleeps) == 2
    assert waits is None or cucm_clock.sleeps == waits
    assert not (root / "reports" / AS_OF).exists()
    assert files_under(root / "reports") == before_reports  # no staging leftovers either
    assert files_under(root / "outbox") == before_outbox
    assert db_counts(root / "licensewatch.db") == before_db
    for text in (captured.out, captured.err, caplog.text):
        assert PASSWORD not in text


def secret_forms() -> dict[str, bytes]:
    """Each secret as it could leak: plain, and the AXL password inside its Basic header."""
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return {
        "Graph client secret": SECRET.encode(),
        "AXL password": PASSWORD.encode(),
        "AXL Basic credentials": basic.encode(),
        "Graph access token": FIRST_TOKEN.encode(),
    }


def test_secrets_appear_in_no_output_report_email_or_saved_pull(
    tmp_path: Path,
    http: responses.RequestsMock,
    cucm_clock: FakeClock,
    secrets_env: None,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    serve_graph(http, graph_pages(tmp_path))
    serve_cucm(http)
    both_live = config_with(accounts=GRAPH_ACCOUNTS, phones=CUCM_PHONES)

    live = orgfiles.write_org(tmp_path / "live", config=both_live)
    assert run(live) == 0
    other = orgfiles.write_org(tmp_path / "other", config=both_live)
    saved = tmp_path / "pulls" / AS_OF
    assert pull(other, saved) == 0
    replay = write_config(
        other.parent,
        "replay.toml",
        config_with(
            accounts=replay_accounts(saved / "accounts"), phones=replay_phones(saved / "phones")
        ),
    )
    assert run(replay) == 0
    assert (other.parent / "reports" / AS_OF / "findings.csv").read_bytes() == (
        live.parent / "reports" / AS_OF / "findings.csv"
    ).read_bytes()

    # The secrets were really used: sent to the (mocked) identity platform and call manager.
    token_posts = [c for c in http.calls if c.request.url == TOKEN_URL]
    assert token_posts and all(SECRET in str(c.request.body) for c in token_posts)
    assert any(c.request.url == AXL_URL for c in http.calls)

    captured = capsys.readouterr()
    assert "accounts (graph)" in captured.out and "phones (cucm)" in captured.out
    texts = {"stdout": captured.out, "stderr": captured.err, "caplog": caplog.text}
    assert caplog.records and captured.err
    places: dict[str, bytes] = {k: v.encode() for k, v in texts.items()}
    for root in (live.parent, other.parent):
        reports = files_under(root / "reports")
        emails = {k: v for k, v in files_under(root / "outbox").items() if k.endswith(".eml")}
        assert reports and len(emails) == 3
        places.update({f"{root.name} reports/{k}": v for k, v in reports.items()})
        places.update({f"{root.name} outbox/{k}": v for k, v in emails.items()})
    pulled = files_under(saved)
    assert {"accounts/users_0001.json", "phones/manifest.json"} <= set(pulled)
    places.update({f"pull {k}": v for k, v in pulled.items()})
    # And every other file the runs left behind (databases, lock files, configs).
    places.update({f"file {k}": v for k, v in files_under(tmp_path).items()})

    leaks = [
        f"{what} in {where}"
        for what, secret in secret_forms().items()
        for where, data in places.items()
        if secret in data
    ]
    assert leaks == []


#: A client secret that URL and JSON encoding change (Entra's secrets use ~ . _ - too).
ODD_SECRET = 'Zq8~a+b/c=d&e%f "g\\h'


def client_secret_forms(secret: str) -> dict[str, str]:
    """``secret`` as an identity platform echoing the token request could show it."""
    return {
        "plain": secret,
        "form-encoded": urlencode({"client_secret": secret}).partition("=")[2],
        "URL-encoded": quote(secret, safe=""),
        "URL-encoded, lower-case hex": re.sub(
            "%[0-9A-F]{2}", lambda m: m.group().lower(), quote_plus(secret)
        ),
        "JSON-escaped": json.dumps(secret)[1:-1],
        "base64": base64.b64encode(secret.encode()).decode(),
    }


def test_a_token_endpoint_echoing_the_request_leaks_the_client_secret_nowhere(
    tmp_path: Path,
    http: responses.RequestsMock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(SECRET_ENV, ODD_SECRET)
    add_login(http, "token_error_invalid_client.json")
    http.remove(responses.POST, TOKEN_URL)

    def echo(request: Any) -> tuple[int, dict[str, str], str]:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        sent = base64.b64encode(body.encode()).decode()
        error = {
            "error": "invalid_client",
            "error_description": f"AADSTS7000215: Invalid client secret in {body} ({sent}) "
            f"{json.dumps(body)}",
        }
        return 401, {"Content-Type": "application/json"}, json.dumps(error)

    http.add_callback(responses.POST, TOKEN_URL, callback=echo)
    org = orgfiles.write_org(tmp_path / "org", config=config_with(accounts=GRAPH_ACCOUNTS))
    assert run(org, "--log-format", "json") == EXIT_RUNTIME

    token_posts = [c for c in http.calls if c.request.url == TOKEN_URL]
    assert token_posts, "the token endpoint was asked"
    captured = capsys.readouterr()
    error_lines = [line for line in captured.err.splitlines() if line.startswith("licensewatch:")]
    assert len(error_lines) == 1 and "Invalid client secret in" in error_lines[0], captured.err
    json_lines = [json.loads(line) for line in captured.err.splitlines() if line.startswith("{")]
    assert json_lines
    places = {"stdout": captured.out, "stderr": captured.err, "caplog": caplog.text}
    places.update(
        {f"file {k}": v.decode("utf-8", "replace") for k, v in files_under(tmp_path).items()}
    )
    leaks = [
        (name, where)
        for name, form in client_secret_forms(ODD_SECRET).items()
        for where, text in places.items()
        if form in text
    ]
    assert leaks == []
