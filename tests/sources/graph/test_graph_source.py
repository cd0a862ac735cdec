"""The live Graph source against recorded answers: paging, throttling, faults, fallback, replay."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

import pandas as pd
import pytest
import requests
import responses

from licensewatch.config import SourceSettings
from licensewatch.errors import (
    EXIT_RUNTIME,
    ConfigError,
    InputError,
    SourceAuthError,
    SourceError,
    SourceUnavailable,
)
from licensewatch.retry import RetryPolicy, parse_retry_after
from licensewatch.rules.neutralise import neutralise_frame
from licensewatch.sources.graph.export import GraphExportSource
from licensewatch.sources.interface import Recordable
from tests.sources.graph.conftest import (
    CLIENT,
    COUNT_URL,
    DOWNLOAD_URL,
    FIRST_TOKEN,
    NOW,
    OPENID_URL,
    REPORT_URL,
    SECOND_TOKEN,
    SECRET,
    SECRET_ENV,
    SKUS_URL,
    TENANT,
    TOKEN_URL,
    USERS_NOSIGNIN_URL,
    USERS_URL,
    Waits,
    add_count,
    add_json,
    add_login,
    add_users,
    bearer,
    calls,
    doc,
    graph_settings,
    make_source,
    next_link,
    raw,
    spy_on_decoding,
)

PAGE2 = next_link("users_page_1.json")
PAGE3 = next_link("users_page_2.json")
NOSIGNIN2 = next_link("users_nosignin_page_1.json")
NOSIGNIN3 = next_link("users_nosignin_page_2.json")
LOGIN_CALLS = [("GET", OPENID_URL), ("POST", TOKEN_URL)]
HAPPY = [
    *LOGIN_CALLS,
    ("GET", SKUS_URL),
    ("GET", USERS_URL),
    ("GET", PAGE2),
    ("GET", PAGE3),
    ("GET", COUNT_URL),
]


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_reads_every_page_with_exactly_one_request_each(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_users(rsps)
    pulled = make_source(graph_settings(tmp_path), waits).pull()

    # nextLinks are followed verbatim, percent-encoding included (%2BZz%3D%3D).
    assert PAGE3.endswith("%2BZz%3D%3D")
    assert calls(rsps) == HAPPY
    assert [bearer(c) for c in rsps.calls] == [None, None] + [f"Bearer {FIRST_TOKEN}"] * 5
    assert all(c.request.req_kwargs["timeout"] == (10.0, 60.0) for c in rsps.calls)
    assert waits == []
    assert pulled.requests == 7 and pulled.signal == "signInActivity" and pulled.notes == ()
    assert pulled.complete
    count = rsps.calls[-1].request
    assert count.headers["ConsistencyLevel"] == "eventual"
    assert count.headers["Accept"] == "text/plain"
    accounts = pulled.accounts.set_index("upn")
    assert len(accounts) == 5  # 3 + 2 + an empty last page
    assert accounts.loc["AdeleV@contoso.com", "last_successful_at"] == ts("2024-12-10T17:38:26Z")
    assert pd.isna(accounts.loc["AlexW@contoso.com", "last_successful_at"])  # "" means never
    assert pd.isna(accounts.loc["Adams@contoso.com", "last_interactive_at"])  # no signInActivity
    licences = set(pulled.licenses[["account_id", "sku_part_number"]].itertuples(index=False))
    assert ("00aa00aa-bb11-cc22-dd33-44ee44ee44ee", "CRMSTANDARD") in licences
    assert len(licences) == 4


def test_page_size_goes_into_top(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_json(rsps, USERS_URL.replace("$top=3", "$top=500"), "users_page_3.json")
    add_count(rsps, 0)
    pulled = make_source(graph_settings(tmp_path, page_size=500), waits).pull()
    assert calls(rsps)[-2] == ("GET", USERS_URL.replace("$top=3", "$top=500"))
    assert pulled.accounts.empty and pulled.requests == 5


def test_429_honours_fractional_retry_after(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    add_json(rsps, SKUS_URL, "error_429.json", status=429, headers={"Retry-After": "2.128"})
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_users(rsps)
    pulled = make_source(graph_settings(tmp_path), waits).pull()
    assert waits == [2.128]
    assert calls(rsps) == [*LOGIN_CALLS, ("GET", SKUS_URL), *HAPPY[2:]]
    assert pulled.requests == 8


@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999])
def test_429_without_retry_after_backs_off_exponentially_with_jitter(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path, draw: float
) -> None:
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    for _ in range(3):
        add_json(rsps, USERS_URL, "error_429.json", status=429)
    add_users(rsps)
    make_source(graph_settings(tmp_path), waits, draw=draw).pull()
    nominal = [1.0, 2.0, 4.0]
    assert waits == pytest.approx([n * (0.5 + 0.5 * draw) for n in nominal])
    assert all(n / 2 <= w <= n for w, n in zip(waits, nominal, strict=True))
    assert calls(rsps)[3:7] == [("GET", USERS_URL)] * 4


def test_503_with_http_date_and_504_without_retry_after(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    later = format_datetime(NOW + timedelta(seconds=5), usegmt=True)
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_json(rsps, USERS_URL, "users_page_1.json")
    add_json(rsps, PAGE2, "error_503.json", status=503, headers={"Retry-After": later})
    rsps.get(PAGE2, body="", status=504)
    add_json(rsps, PAGE2, "users_page_2.json")
    add_json(rsps, PAGE3, "users_page_3.json")
    add_count(rsps, 5)
    pulled = make_source(graph_settings(tmp_path), waits).pull()
    assert waits == [5.0, 1.5]  # the HTTP date, then backoff for retry 2 (2 s x 0.75)
    assert calls(rsps)[4:7] == [("GET", PAGE2)] * 3
    assert len(pulled.accounts) == 5


def test_connection_errors_and_timeouts_are_retried(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    rsps.get(SKUS_URL, body=requests.ConnectionError("connection reset by peer"))
    rsps.get(SKUS_URL, body=requests.ReadTimeout("read timed out"))
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_users(rsps)
    pulled = make_source(graph_settings(tmp_path), waits).pull()
    assert waits == [0.75, 1.5]
    assert calls(rsps)[2:5] == [("GET", SKUS_URL)] * 3
    assert len(pulled.accounts) == 5


def test_spent_retry_budget_raises_and_keeps_the_pages_only_in_incomplete(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_json(rsps, USERS_URL, "users_page_1.json")
    add_json(rsps, PAGE2, "error_503.json", status=503)
    source = make_source(graph_settings(tmp_path, max_retries=2), waits)
    saved = tmp_path / "saved"
    source.record_to(saved)
    with pytest.raises(SourceUnavailable) as caught:
        source.pull()
    assert caught.value.exit_code == EXIT_RUNTIME
    assert "after 2 retries" in caught.value.message and "nothing was sent" in caught.value.message
    assert waits == [0.75, 1.5]
    assert calls(rsps)[4:] == [("GET", PAGE2)] * 3  # first try + 2 retries, then stop
    # A half-read pull is never saved as a pull: its pages are kept in incomplete/ only,
    # no staging folder is left, and graph-export does not take the folder for a pull.
    assert [p.name for p in saved.iterdir()] == ["incomplete"]
    assert sorted(p.name for p in (saved / "incomplete").iterdir()) == [
        "subscribedSkus.json",
        "users_0001.json",
    ]
    assert (saved / "incomplete" / "users_0001.json").read_bytes() == raw("users_page_1.json")
    with pytest.raises(InputError):
        GraphExportSource(
            SourceSettings("accounts", "graph-export", {"path": str(saved)}, tmp_path)
        ).pull()


def test_a_save_after_a_failed_pull_replaces_its_incomplete_folder(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    saved = tmp_path / "saved"
    (saved / "incomplete").mkdir(parents=True)
    (saved / "incomplete" / "users_0009.json").write_text("{}")
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_users(rsps)
    source = make_source(graph_settings(tmp_path), waits)
    source.record_to(saved)  # a failed pull's leftovers do not make the folder "taken"
    source.pull()
    assert (saved / "manifest.json").is_file() and not (saved / "incomplete").exists()


def test_401_gets_a_fresh_token_once_and_retries(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps, "token.json", "token_refreshed.json")
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_json(rsps, USERS_URL, "users_page_1.json")
    add_json(rsps, PAGE2, "error_401.json", status=401)
    add_json(rsps, PAGE2, "users_page_2.json")
    add_json(rsps, PAGE3, "users_page_3.json")
    add_count(rsps, 5)
    pulled = make_source(graph_settings(tmp_path), waits).pull()
    assert calls(rsps) == [
        *HAPPY[:5],
        ("POST", TOKEN_URL),
        ("GET", PAGE2),
        ("GET", PAGE3),
        ("GET", COUNT_URL),
    ]
    tokens = [bearer(c) for c in rsps.calls if c.request.method == "GET"][1:]
    assert tokens == [f"Bearer {FIRST_TOKEN}"] * 3 + [f"Bearer {SECOND_TOKEN}"] * 3
    assert waits == [] and pulled.requests == 9


def test_a_second_401_is_fatal(rsps: responses.RequestsMock, waits: Waits, tmp_path: Path) -> None:
    add_login(rsps, "token.json", "token_refreshed.json")
    add_json(rsps, SKUS_URL, "error_401.json", status=401)
    with pytest.raises(SourceAuthError, match="InvalidAuthenticationToken"):
        make_source(graph_settings(tmp_path), waits).pull()
    assert calls(rsps) == [*LOGIN_CALLS, ("GET", SKUS_URL), ("POST", TOKEN_URL), ("GET", SKUS_URL)]


def add_report(mock: responses.RequestsMock, csv_name: str = "report_D180.csv") -> None:
    mock.get(REPORT_URL, status=302, headers={"Location": DOWNLOAD_URL}, body="")
    mock.get(DOWNLOAD_URL, body=raw(csv_name), content_type="application/octet-stream")


def test_non_premium_tenant_falls_back_to_the_usage_report(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_json(rsps, USERS_URL, "error_403_nonpremium.json", status=403)
    add_users(rsps, sign_in=False)
    add_report(rsps)
    with caplog.at_level(logging.INFO, logger="licensewatch"):
        pulled = make_source(graph_settings(tmp_path), waits).pull()

    assert calls(rsps) == [
        *LOGIN_CALLS,
        ("GET", SKUS_URL),
        ("GET", USERS_URL),
        ("GET", USERS_NOSIGNIN_URL),
        ("GET", NOSIGNIN2),
        ("GET", NOSIGNIN3),
        ("GET", REPORT_URL),
        ("GET", DOWNLOAD_URL),
        ("GET", COUNT_URL),
    ]
    # The pre-authenticated download never sees the bearer token; Graph calls always do.
    assert bearer(rsps.calls[-2]) is None
    graph_calls = [*rsps.calls[2:-2], rsps.calls[-1]]
    assert [bearer(c) for c in graph_calls] == [f"Bearer {FIRST_TOKEN}"] * 7
    assert pulled.signal == "usage-report" and pulled.requests == 10
    assert "Authentication_RequestFromNonPremiumTenantOrB2CTenant" in pulled.notes[0]
    assert "refreshed 2024-12-14" in pulled.notes[1]
    assert "activity signal: usage-report" in caplog.text
    got = pulled.accounts.set_index("upn")
    assert got.loc["AdeleV@contoso.com", "last_interactive_at"] == ts("2024-12-12")
    assert got.loc["AdeleV@contoso.com", "last_successful_at"] == ts("2024-12-12")
    assert got.loc["AlexW@contoso.com", "last_successful_at"] == ts("2024-09-15")
    assert got["last_noninteractive_at"].isna().all()
    # Stine's report row is a deleted user's: no activity for the live account.
    assert pd.isna(got.loc["StineR@contoso.com", "last_successful_at"])


def test_configured_usage_report_never_selects_sign_in_activity(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_users(rsps, sign_in=False)
    add_report(rsps)
    with caplog.at_level(logging.INFO, logger="licensewatch"):
        pulled = make_source(graph_settings(tmp_path, activity="usage-report"), waits).pull()
    assert [u for _, u in calls(rsps) if "signInActivity" in u] == []
    assert calls(rsps)[3] == ("GET", USERS_NOSIGNIN_URL)
    assert calls(rsps)[-2] == ("GET", DOWNLOAD_URL) and bearer(rsps.calls[-2]) is None
    assert pulled.signal == "usage-report" and len(pulled.notes) == 1
    assert "activity signal: usage-report" in caplog.text


def test_concealed_report_names_the_admin_setting(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_users(rsps, sign_in=False)
    add_report(rsps, "report_concealed.csv")
    with pytest.raises(SourceError) as caught:
        make_source(graph_settings(tmp_path, activity="usage-report"), waits).pull()
    assert "Display concealed user, group, and site names in all reports" in caught.value.one_line()


def test_report_without_permission_names_reports_read_all(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_users(rsps, sign_in=False)
    add_json(rsps, REPORT_URL, "error_403_denied.json", status=403)
    with pytest.raises(SourceAuthError) as caught:
        make_source(graph_settings(tmp_path, activity="usage-report"), waits).pull()
    assert "Reports.Read.All" in (caught.value.hint or "")


def test_other_403_is_an_error_not_a_fallback(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_json(rsps, USERS_URL, "error_403_denied.json", status=403)
    with pytest.raises(SourceAuthError, match="Authorization_RequestDenied"):
        make_source(graph_settings(tmp_path), waits).pull()
    assert calls(rsps)[-1] == ("GET", USERS_URL)


def test_saved_pull_replays_to_identical_frames(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_users(rsps)
    source = make_source(graph_settings(tmp_path), waits)
    assert isinstance(source, Recordable)
    saved = tmp_path / "pull" / "accounts"
    source.record_to(saved)
    live = source.pull()

    names = sorted(p.name for p in saved.iterdir())
    assert names == [
        "manifest.json",
        "subscribedSkus.json",
        "users_0001.json",
        "users_0002.json",
        "users_0003.json",
    ]
    assert (saved / "subscribedSkus.json").read_bytes() == raw("subscribedSkus.json")
    for n in (1, 2, 3):
        assert (saved / f"users_{n:04d}.json").read_bytes() == raw(f"users_page_{n}.json")
    # The page chain as the live pull walked it, and the $count it was checked against.
    manifest = json.loads((saved / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["pages"] == [
        {"file": "users_0001.json", "users": 3, "next_link": PAGE2, "next_file": "users_0002.json"},
        {"file": "users_0002.json", "users": 2, "next_link": PAGE3, "next_file": "users_0003.json"},
        {"file": "users_0003.json", "users": 0, "next_link": None, "next_file": None},
    ]
    assert manifest["users"] == 5 and manifest["count"] == 5 and manifest["count_verified"]
    assert manifest["activity"] == "signInActivity"

    replay = GraphExportSource(
        SourceSettings(
            feed="accounts", kind="graph-export", options={"path": str(saved)}, base_dir=tmp_path
        )
    ).pull()
    pd.testing.assert_frame_equal(replay.accounts, live.accounts)
    pd.testing.assert_frame_equal(replay.licenses, live.licenses)
    assert replay.signal == live.signal
    assert replay.complete and live.complete


def test_the_live_pull_decodes_its_pages_into_the_fields_it_reads(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded = spy_on_decoding(monkeypatch, "decode")
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_users(rsps)
    pulled = make_source(graph_settings(tmp_path), waits).pull()
    assert decoded == [True, True, True]  # every page read into the fields, without dicts
    assert len(pulled.accounts) == 5  # the frames: test_saved_pull_replays_to_identical_frames


def test_a_lone_surrogate_in_a_live_page_is_read_and_neutralised(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    # "\\ud800" is valid JSON (and directory text holds it); orjson refuses it and Arrow
    # cannot store it. Before, this page stopped the night as "not JSON".
    page = raw("users_page_2.json").replace(b'"Stine Romund"', b'"Stine \\ud800Romund"')
    assert page != raw("users_page_2.json")
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    rsps.get(USERS_URL, body=raw("users_page_1.json"), content_type="application/json")
    rsps.get(PAGE2, body=page, content_type="application/json")
    add_json(rsps, PAGE3, "users_page_3.json")
    add_count(rsps, 5)
    source = make_source(graph_settings(tmp_path), waits)
    saved = tmp_path / "pull" / "accounts"
    source.record_to(saved)
    live = source.pull()

    assert (saved / "users_0002.json").read_bytes() == page  # saved as received
    names = live.accounts["display_name"]
    assert names[names.str.startswith("Stine")].tolist() == ["Stine \uffffRomund"]
    clean, counts = neutralise_frame(live.accounts, "accounts")
    assert counts == {"accounts.display_name": 1}
    assert "Stine \ufffdRomund" in clean["display_name"].tolist()
    replay = GraphExportSource(
        SourceSettings(
            feed="accounts", kind="graph-export", options={"path": str(saved)}, base_dir=tmp_path
        )
    ).pull()
    pd.testing.assert_frame_equal(replay.accounts, live.accounts)


def test_saved_usage_report_pull_replays_to_identical_frames(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_json(rsps, USERS_URL, "error_403_nonpremium.json", status=403)
    add_users(rsps, sign_in=False)
    add_report(rsps)
    source = make_source(graph_settings(tmp_path), waits)
    saved = tmp_path / "saved"
    source.record_to(saved)
    live = source.pull()

    assert (saved / "usage_report.csv").read_bytes() == raw("report_D180.csv")
    pages = sorted(saved.glob("users_*.json"))
    assert [p.read_bytes() for p in pages] == [
        raw(f"users_nosignin_page_{n}.json") for n in (1, 2, 3)
    ]
    replayed = GraphExportSource(
        SourceSettings("accounts", "graph-export", {"path": str(saved)}, tmp_path)
    ).pull()
    assert replayed.signal == live.signal == "usage-report"
    pd.testing.assert_frame_equal(replayed.accounts, live.accounts)
    pd.testing.assert_frame_equal(replayed.licenses, live.licenses)


def test_record_to_refuses_a_folder_with_a_saved_pull(waits: Waits, tmp_path: Path) -> None:
    (tmp_path / "users_0001.json").write_text("{}")
    with pytest.raises(ConfigError, match="already holds a saved pull"):
        make_source(graph_settings(tmp_path), waits).record_to(tmp_path)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _pull_with(rsps: responses.RequestsMock, tmp_path: Path, stream: io.StringIO) -> None:
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_users(rsps)
    make_source(graph_settings(tmp_path), Waits(), stream=stream).pull()


def test_progress_bar_on_a_terminal(
    rsps: responses.RequestsMock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    terminal = _Terminal()
    with caplog.at_level(logging.INFO, logger="licensewatch.progress"):
        _pull_with(rsps, tmp_path, terminal)
    shown = terminal.getvalue()
    assert shown.startswith("\r") and shown.endswith("\n")
    assert "Graph users: 3 pages, 5 users" in shown
    assert "Graph users" not in caplog.text


def test_periodic_log_lines_when_not_on_a_terminal(
    rsps: responses.RequestsMock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plain = io.StringIO()
    with caplog.at_level(logging.INFO, logger="licensewatch.progress"):
        _pull_with(rsps, tmp_path, plain)
    assert plain.getvalue() == ""
    assert "Graph users: 3 pages, 5 users" in caplog.text and "(done)" in caplog.text


def test_missing_secret_stops_before_any_request(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_source(graph_settings(tmp_path), waits, environ={}).pull()
    assert SECRET_ENV in caught.value.message
    assert calls(rsps) == []


GRAPH_ACCOUNTS = f"""[sources.accounts]
kind = "graph"
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
client_secret_env = "{SECRET_ENV}"
max_retries = 2
"""


def test_spent_budget_in_a_run_exits_1_and_sends_nothing(
    rsps: responses.RequestsMock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from licensewatch.cli.parser import main
    from tests import orgfiles

    monkeypatch.setenv(SECRET_ENV, SECRET)
    waits = Waits()
    monkeypatch.setattr("time.sleep", waits)  # open_graph looks time.sleep up at pull time
    config = orgfiles.CONFIG.replace(
        '[sources.accounts]\nkind = "graph-export"\npath = "exports/graph"\n', GRAPH_ACCOUNTS
    )
    assert GRAPH_ACCOUNTS in config
    path = orgfiles.write_org(tmp_path / "org", config=config)
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_json(rsps, USERS_URL.replace("$top=3", "$top=500"), "error_503.json", status=503)

    code = main(["run", "--config", str(path), "--as-of", orgfiles.AS_OF])

    assert code == EXIT_RUNTIME == 1
    assert "Graph kept failing" in capsys.readouterr().err
    assert len(waits) == 2 and len(rsps.calls) == 6
    outbox = path.parent / "outbox"
    assert not outbox.exists() or not any(outbox.iterdir())
    assert not (path.parent / "reports" / orgfiles.AS_OF).exists()


def test_refused_credentials_are_not_retried(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps, "token_error_invalid_client.json")
    with pytest.raises(SourceAuthError, match="invalid_client"):
        make_source(graph_settings(tmp_path), waits).pull()
    assert waits == [] and not [u for _, u in calls(rsps) if u.startswith("https://graph.")]


def test_unreachable_identity_platform_is_retried_like_graph(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    rsps.get(OPENID_URL, body=requests.ConnectionError("no route to host"))
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_users(rsps)
    pulled = make_source(graph_settings(tmp_path), waits).pull()
    assert waits == [0.75]
    assert calls(rsps)[:3] == [("GET", OPENID_URL), *LOGIN_CALLS]
    assert len(pulled.accounts) == 5


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"tenant": "x"},
            "unknown key 'tenant' in [sources.accounts] (kind 'graph'); valid keys "
            "are: kind, tenant_id, client_id, client_secret_env, certificate_path",
        ),
        (
            {"client_secret_env": None},
            "needs exactly one of client_secret_env and certificate_path",
        ),
        (
            {"certificate_path": "app.pem"},
            "needs exactly one of client_secret_env and certificate_path",
        ),
        (
            {"certificate_thumbprint": "AB" * 20},
            "has certificate_thumbprint but no certificate_path",
        ),
        ({"tenant_id": " "}, "needs 'tenant_id'"),
        ({"activity": "audit-log"}, "activity must be 'signInActivity' or 'usage-report'"),
        ({"page_size": 0}, "page_size must be 1 to 999, not 0"),
        ({"page_size": 1000}, "page_size must be 1 to 999, not 1000"),
        ({"page_size": "500"}, "page_size must be int, not str"),
        ({"max_retries": True}, "max_retries must be int, not bool"),
        ({"timeout_s": 0}, "timeout_s must be more than 0"),
        ({"authority": "http://127.0.0.1:8080"}, "authority must be an https URL"),
        ({"graph_url": "http://graph.example.org/v1.0"}, "graph_url must be an https URL"),
    ],
)
def test_options_are_validated(tmp_path: Path, options: dict[str, object], message: str) -> None:
    settings = graph_settings(tmp_path, **options)
    values = {k: v for k, v in settings.options.items() if v is not None}
    settings = SourceSettings(feed="accounts", kind="graph", options=values, base_dir=tmp_path)
    with pytest.raises(ConfigError) as caught:
        make_source(settings, Waits())
    assert message in caught.value.message


def test_defaults_and_resolved_paths(tmp_path: Path) -> None:
    settings = SourceSettings(
        feed="accounts",
        kind="graph",
        options={
            "tenant_id": TENANT,
            "client_id": CLIENT,
            "certificate_path": "secrets/app.pfx",
            "ca_bundle": "ca.pem",
            "graph_url": "http://127.0.0.1:8080/v1.0/",
            "timeout_s": 30,
        },
        base_dir=tmp_path,
    )
    o = make_source(settings, Waits()).options
    assert o.certificate_path == tmp_path / "secrets" / "app.pfx"
    assert o.ca_bundle == tmp_path / "ca.pem"
    assert o.graph_url == "http://127.0.0.1:8080/v1.0" and o.timeout_s == 30.0
    assert (o.authority, o.page_size, o.activity, o.max_retries) == (
        "https://login.microsoftonline.com",
        500,
        "signInActivity",
        6,
    )


def test_ca_bundle_wins_over_requests_ca_bundle(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "corporate-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_users(rsps)
    make_source(graph_settings(tmp_path, ca_bundle="corporate-ca.pem"), waits).pull()
    assert [c.request.req_kwargs["verify"] for c in rsps.calls] == [str(bundle)] * 7


def test_tls_failure_is_not_retried(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    rsps.get(SKUS_URL, body=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(SourceError) as caught:
        make_source(graph_settings(tmp_path), waits).pull()
    assert "certificate verify failed" in caught.value.message
    assert "ca_bundle" in (caught.value.hint or "")
    assert not isinstance(caught.value, SourceUnavailable) and waits == []


def test_unusable_content_is_a_source_error_and_is_kept_for_replay(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    page = doc("users_page_2.json")
    del page["value"][0]["id"]
    body = json.dumps(page).encode()
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_json(rsps, USERS_URL, "users_page_1.json")
    rsps.get(PAGE2, body=body, content_type="application/json")
    add_json(rsps, PAGE3, "users_page_3.json")
    source = make_source(graph_settings(tmp_path), waits)
    saved = tmp_path / "saved"
    source.record_to(saved)
    with pytest.raises(SourceError) as caught:
        source.pull()
    assert "GET /users page 2" in caught.value.message and "has no id" in caught.value.message
    assert caught.value.exit_code == EXIT_RUNTIME and str(saved) in (caught.value.hint or "")
    assert (saved / "users_0002.json").read_bytes() == body


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("2.128", 2.128),
        (" 3 ", 3.0),
        ("0", 0.0),
        ("-4", 0.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(seconds=90), usegmt=True), 0.0),
        ("soon", None),
        ("nan", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_values(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


def test_a_very_long_retry_after_is_shortened(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    add_json(rsps, SKUS_URL, "error_429.json", status=429, headers={"Retry-After": "3600"})
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_users(rsps)
    make_source(graph_settings(tmp_path), waits).pull()
    assert waits == [RetryPolicy().max_wait_s] == [300.0]


# --- completeness: GET /users/$count (issue 13.2) ---------------------------------------------


def test_count_beyond_the_tolerance_fails_the_pull_and_saves_no_pull(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_users(rsps)  # 5 users paged
    rsps.replace(responses.GET, COUNT_URL, body="11", content_type="text/plain")
    source = make_source(graph_settings(tmp_path), waits)
    saved = tmp_path / "saved"
    source.record_to(saved)
    with pytest.raises(SourceError) as caught:
        source.pull()
    assert caught.value.exit_code == EXIT_RUNTIME
    assert "5 users paged but Graph's $count says 11 (more than 5 apart)" in caught.value.message
    assert [p.name for p in saved.iterdir()] == ["incomplete"]  # kept for diagnosis only
    assert not (saved / "incomplete" / "manifest.json").exists()


def test_count_within_the_tolerance_passes(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_users(rsps)
    rsps.replace(responses.GET, COUNT_URL, body="10\n", content_type="text/plain")
    assert make_source(graph_settings(tmp_path), waits).pull().complete


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (403, "error_403_denied.json", "Authorization_RequestDenied"),
        (400, "error_401.json", "HTTP 400"),
    ],
)
def test_a_count_graph_refuses_fails_and_names_verify_count(
    rsps: responses.RequestsMock,
    waits: Waits,
    tmp_path: Path,
    status: int,
    body: str,
    expected: str,
) -> None:
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_users(rsps)
    rsps.replace(responses.GET, COUNT_URL, body=raw(body), status=status)
    with pytest.raises(SourceError) as caught:
        make_source(graph_settings(tmp_path), waits).pull()
    assert caught.value.exit_code == EXIT_RUNTIME
    assert "cannot prove it is complete" in caught.value.message
    assert expected in caught.value.message
    assert "verify_count = false" in (caught.value.hint or "")


def test_a_count_that_is_not_a_number_fails(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path
) -> None:
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_users(rsps)
    rsps.replace(responses.GET, COUNT_URL, body="<html>proxy</html>", content_type="text/html")
    with pytest.raises(SourceError, match="not a count of users"):
        make_source(graph_settings(tmp_path), waits).pull()


def test_verify_count_false_skips_the_count_and_marks_the_pull_unproven(
    rsps: responses.RequestsMock, waits: Waits, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_users(rsps)
    source = make_source(graph_settings(tmp_path, verify_count=False), waits)
    saved = tmp_path / "saved"
    source.record_to(saved)
    with caplog.at_level(logging.WARNING, logger="licensewatch"):
        pulled = source.pull()
    assert ("GET", COUNT_URL) not in calls(rsps)
    assert not pulled.complete
    assert "not proven complete" in pulled.notes[-1] and "verify_count = false" in caplog.text
    manifest = json.loads((saved / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["count"] is None and manifest["count_verified"] is False
    # Its replay is just as unproven: no licence it lacks is booked as removed.
    replay = GraphExportSource(
        SourceSettings("accounts", "graph-export", {"path": str(saved)}, tmp_path)
    ).pull()
    assert not replay.complete and "did not verify its user count" in replay.notes[-1]


@pytest.mark.parametrize("value", ["no", 0])
def test_verify_count_must_be_a_boolean(tmp_path: Path, value: object) -> None:
    with pytest.raises(ConfigError, match="verify_count must be bool"):
        make_source(graph_settings(tmp_path, verify_count=value), Waits())
