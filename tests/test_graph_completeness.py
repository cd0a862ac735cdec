"""A Graph pull must prove it is complete before anything is sent or booked removed (issue 13.2).

The organization of :mod:`tests.orgfiles` plus 22 unlicensed, recently active
users, as three Graph users pages of ten (``$top=10``): a lost page is
well outside the ``$count`` tolerance (max(5, 0.5 %)). The feed brake is
loosened so that only the completeness checks can stop the run, as with the
hundred users of a 60,000-account tenant that vanish under the 10 % brake.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from licensewatch.cli.parser import main
from tests import orgfiles
from tests.sources.graph.conftest import (
    CLIENT,
    GRAPH,
    SECRET,
    SECRET_ENV,
    SKUS_URL,
    TENANT,
    add_login,
)

PAGE_SIZE = 10
USERS_URL = f"{GRAPH}/users?$select={orgfiles.SELECT}&$top={PAGE_SIZE}"
COUNT_URL = f"{GRAPH}/users/$count"
DAY1, DAY2 = orgfiles.AS_OF, "2020-01-01"
EXPORT_ACCOUNTS = '[sources.accounts]\nkind = "graph-export"\npath = "exports/graph"\n'
GRAPH_ACCOUNTS = f"""[sources.accounts]
kind = "graph"
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
client_secret_env = "{SECRET_ENV}"
page_size = {PAGE_SIZE}
max_retries = 0
"""
#: Carol (never signed in, E3) is on page 1; Erin and Frank (dormant, E3) on page 2.
CAROL_LICENCE = "license:00000000-0000-4000-8000-000000000003:"
PAGE2_LICENCES = ("00000000-0000-4000-8000-000000000005", "00000000-0000-4000-8000-000000000007")


def filler(n: int) -> dict[str, Any]:
    """An active, unlicensed member: in the feed, never a finding."""
    return {
        "id": f"00000000-0000-4000-9000-{n:012d}",
        "userPrincipalName": f"filler{n}@contoso.org",
        "mail": f"filler{n}@contoso.org",
        "employeeId": f"F{n}",
        "displayName": f"Filler {n}",
        "department": "Finance",
        "accountEnabled": True,
        "userType": "Member",
        "createdDateTime": "2018-01-01T09:00:00Z",
        "assignedLicenses": [],
        "signInActivity": {
            "lastSignInDateTime": "2019-12-20T08:00:00Z",
            "lastNonInteractiveSignInDateTime": "0001-01-01T00:00:00Z",
            "lastSuccessfulSignInDateTime": "2019-12-20T08:00:00Z",
        },
    }


def users_pages(*, drop_carol_licence: bool = False) -> list[dict[str, Any]]:
    """Three pages of ten users, chained by distinct opaque ``$skiptoken`` nextLinks."""
    users = [json.loads(json.dumps(u)) for u in orgfiles.USERS] + [filler(n) for n in range(22)]
    if drop_carol_licence:
        users[2]["assignedLicenses"] = []
    split = [users[:4] + users[8:14], users[4:8] + users[14:20], users[20:30]]
    pages: list[dict[str, Any]] = []
    for i, value in enumerate(split):
        doc: dict[str, Any] = {
            "@odata.context": f"{GRAPH}/$metadata#users({orgfiles.SELECT})",
            "value": value,
        }
        if i < len(split) - 1:
            doc["@odata.nextLink"] = f"{USERS_URL}&$skiptoken=RFNwdAIAAQAAACM6{i + 1}QWRlbGVW"
        pages.append(doc)
    return pages


def serve(mock: responses.RequestsMock, pages: list[dict[str, Any]], count: int = 30) -> None:
    """Graph answering the pages in order (each at the link before it) and ``$count``."""
    add_login(mock)
    mock.get(SKUS_URL, json=orgfiles.SKUS)
    url = USERS_URL
    for page in pages:
        mock.get(url, json=page)
        url = page.get("@odata.nextLink", f"{USERS_URL}&never-asked")
    # Graph's original chain: the page the middle one should have linked to.
    mock.get(f"{USERS_URL}&$skiptoken=RFNwdAIAAQAAACM62QWRlbGVW", json=users_pages()[2])
    mock.get(COUNT_URL, body=str(count), content_type="text/plain")


def org(root: Path, accounts: str = EXPORT_ACCOUNTS) -> Path:
    """The organization, its feed brake loosened; ``accounts`` replaces [sources.accounts]."""
    config = orgfiles.CONFIG.replace(EXPORT_ACCOUNTS, accounts).replace(
        "max_dormant_fraction = 0.9\n", "max_dormant_fraction = 0.9\nmax_feed_drop = 0.9\n"
    )
    assert "max_feed_drop = 0.9" in config and accounts in config
    return orgfiles.write_org(root, config=config)


def run(config: Path, as_of: str) -> int:
    return main(["run", "--config", str(config), "--as-of", as_of])


def save(config: Path, folder: Path) -> int:
    return main(["pull", "--config", str(config), "--save", str(folder)])


def replaying(config: Path, folder: Path) -> Path:
    """A second config beside ``config`` whose accounts replay the saved pull in ``folder``."""
    text = config.read_text(encoding="utf-8").replace(
        EXPORT_ACCOUNTS,
        f'[sources.accounts]\nkind = "graph-export"\npath = "{folder.as_posix()}"\n',
    )
    path = config.parent / "replay.toml"
    path.write_text(text, encoding="utf-8")
    return path


def removed(config: Path) -> list[str]:
    with sqlite3.connect(config.parent / "licensewatch.db") as con:
        rows = con.execute("select resource_id from resource_state where status = 'removed'")
        return sorted(str(r[0]) for r in rows)


def emls(config: Path) -> list[Path]:
    return sorted((config.parent / "outbox").rglob("*.eml"))


def summary(config: Path, as_of: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (config.parent / "reports" / as_of / "run_summary.json").read_text(encoding="utf-8")
    )
    return loaded


@pytest.fixture
def http(monkeypatch: pytest.MonkeyPatch) -> Iterator[responses.RequestsMock]:
    """``responses`` refusing anything unregistered; the secret set; no real waits."""
    monkeypatch.setenv(SECRET_ENV, SECRET)

    def refuse(seconds: float) -> None:
        raise AssertionError(f"a test asked to really sleep {seconds} s")

    monkeypatch.setattr(time, "sleep", refuse)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def saved_pull(tmp_path: Path, http: responses.RequestsMock, **kwargs: bool) -> Path:
    """``licensewatch pull --save`` of the three pages; returns the accounts folder."""
    serve(http, users_pages(**kwargs))
    live = org(tmp_path / f"live{len(list(tmp_path.iterdir()))}", GRAPH_ACCOUNTS)
    folder = tmp_path / f"pull{len(list(tmp_path.iterdir()))}"
    assert save(live, folder) == 0
    http.reset()
    return folder / "accounts"


def test_saved_pull_with_a_middle_page_deleted_fails_and_books_nothing(
    tmp_path: Path, http: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    accounts = saved_pull(tmp_path, http)
    assert sorted(p.name for p in accounts.iterdir()) == [
        "manifest.json",
        "subscribedSkus.json",
        "users_0001.json",
        "users_0002.json",
        "users_0003.json",
    ]
    config = replaying(org(tmp_path / "org"), accounts)
    assert run(config, DAY1) == 0
    sent = emls(config)
    assert sent and removed(config) == []

    (accounts / "users_0002.json").unlink()
    capsys.readouterr()
    assert run(config, DAY2) == 1
    err = capsys.readouterr().err
    assert "incomplete" in err and "users_0002.json" in err
    assert removed(config) == []  # Erin's and Frank's licences were not booked as removed
    assert emls(config) == sent  # nothing sent
    assert not (config.parent / "reports" / DAY2 / "run_summary.json").exists()


def test_saved_pull_whose_middle_page_lost_its_next_link_fails(
    tmp_path: Path, http: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    accounts = saved_pull(tmp_path, http)
    page = accounts / "users_0002.json"
    doc = json.loads(page.read_bytes())
    del doc["@odata.nextLink"]
    page.write_text(json.dumps(doc), encoding="utf-8")
    config = replaying(org(tmp_path / "org"), accounts)
    assert run(config, DAY1) == 1
    assert "users_0002.json has no @odata.nextLink but more pages follow" in capsys.readouterr().err
    assert emls(config) == []


def test_export_without_manifest_with_a_middle_page_deleted_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = org(tmp_path / "org")
    graph = config.parent / "exports" / "graph"
    for old in graph.glob("users_*.json"):
        old.unlink()
    for n, doc in enumerate(users_pages(), start=1):
        (graph / f"users_{n:04d}.json").write_text(json.dumps(doc), encoding="utf-8")
    assert run(config, DAY1) == 0
    sent = emls(config)

    (graph / "users_0002.json").unlink()
    assert run(config, DAY2) == 1
    assert "page 2 is missing" in capsys.readouterr().err
    assert removed(config) == [] and emls(config) == sent


def test_live_pull_whose_middle_page_lacks_next_link_fails_on_the_count(
    tmp_path: Path, http: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    pages = users_pages()
    del pages[1]["@odata.nextLink"]  # Graph serves page 2 as if it were the last
    serve(http, pages)
    config = org(tmp_path / "org", GRAPH_ACCOUNTS)
    assert run(config, DAY1) == 1
    err = capsys.readouterr().err
    assert "20 users paged but Graph's $count says 30" in err
    assert emls(config) == []
    asked = [c.request.url for c in http.calls]
    assert COUNT_URL in asked and f"{USERS_URL}&$skiptoken=RFNwdAIAAQAAACM62QWRlbGVW" not in asked


def test_good_pulls_still_book_removals(tmp_path: Path, http: responses.RequestsMock) -> None:
    config = org(tmp_path / "org", GRAPH_ACCOUNTS)
    serve(http, users_pages())
    assert run(config, DAY1) == 0
    http.reset()
    serve(http, users_pages(drop_carol_licence=True))
    assert run(config, DAY2) == 0
    assert summary(config, DAY2)["removed_resources"] == 1
    (carol,) = removed(config)
    assert carol.startswith(CAROL_LICENCE)


def test_an_unverified_count_books_no_licence_removal(
    tmp_path: Path, http: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    config = org(tmp_path / "org", GRAPH_ACCOUNTS + "verify_count = false\n")
    serve(http, users_pages())
    assert run(config, DAY1) == 0
    http.reset()
    serve(http, users_pages(drop_carol_licence=True))
    assert run(config, DAY2) == 0
    assert COUNT_URL not in [c.request.url for c in http.calls]
    assert summary(config, DAY2)["removed_resources"] == 0
    assert removed(config) == []
