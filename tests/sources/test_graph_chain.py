"""The page chain of a saved Graph pull and the $count tolerance (issue 13.2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from licensewatch.errors import EXIT_RUNTIME, InputError, SourceError
from licensewatch.sources.graph.chain import (
    MANIFEST_FILE,
    Page,
    check_count,
    count_tolerance,
    encode_manifest,
    manifest,
)
from tests.sources.test_graph_export import page, pull, user, write_pages

LINK = "https://graph.microsoft.com/v1.0/users?$top=1&$skiptoken=RFNw{}"


@pytest.mark.parametrize(
    ("count", "tolerance"), [(0, 5), (8, 5), (1_000, 5), (2_000, 10), (60_000, 300), (60_001, 301)]
)
def test_count_tolerance_is_five_users_or_half_a_percent(count: int, tolerance: int) -> None:
    assert count_tolerance(count) == tolerance
    check_count(count + tolerance, count, where="t")
    check_count(max(0, count - tolerance), count, where="t")
    with pytest.raises(SourceError):
        check_count(count + tolerance + 1, count, where="t")


def saved(folder: Path, count: int | None = 3, **change: Any) -> Path:
    """A saved pull of three one-user pages with its manifest; ``change`` edits the manifest."""
    docs = [page([user(n)]) for n in (1, 2, 3)]
    for n, doc in enumerate(docs[:-1], start=1):
        doc["@odata.nextLink"] = LINK.format(n)
    names = [f"users_{n:04d}.json" for n in (1, 2, 3)]
    write_pages(folder, *docs, names=names)
    pages = [
        Page(name, 1, doc.get("@odata.nextLink")) for name, doc in zip(names, docs, strict=True)
    ]
    doc = manifest(pages, activity="signInActivity", count=count)
    doc.update(change)
    (folder / MANIFEST_FILE).write_bytes(encode_manifest(doc))
    return folder


def broken(folder: Path) -> str:
    with pytest.raises(SourceError) as caught:
        pull(folder)
    assert caught.value.exit_code == EXIT_RUNTIME
    return caught.value.message


def test_a_whole_saved_pull_replays_complete(tmp_path: Path) -> None:
    replay = pull(saved(tmp_path / "g"))
    assert replay.complete and len(replay.accounts) == 3 and replay.notes == ()


def test_a_missing_page_is_named(tmp_path: Path) -> None:
    folder = saved(tmp_path / "g")
    (folder / "users_0002.json").unlink()
    assert "1 of its 3 users pages is missing (users_0002.json)" in broken(folder)


def test_a_page_not_in_the_manifest_is_refused(tmp_path: Path) -> None:
    folder = saved(tmp_path / "g")
    (folder / "users_0004.json").write_text(json.dumps(page([user(4)])), encoding="utf-8")
    assert "users_0004.json is not part of it" in broken(folder)


def test_a_changed_next_link_or_user_count_is_refused(tmp_path: Path) -> None:
    folder = saved(tmp_path / "g")
    first = folder / "users_0001.json"
    doc = json.loads(first.read_bytes())
    doc["@odata.nextLink"] = LINK.format(9)
    first.write_text(json.dumps(doc), encoding="utf-8")
    assert "users_0001.json has another @odata.nextLink" in broken(folder)
    doc["@odata.nextLink"] = LINK.format(1)
    doc["value"].append(user(9))
    first.write_text(json.dumps(doc), encoding="utf-8")
    assert "users_0001.json holds 2 users; the pull recorded 1" in broken(folder)


def test_a_manifest_that_does_not_link_is_refused(tmp_path: Path) -> None:
    folder = saved(tmp_path / "g")
    doc = json.loads((folder / MANIFEST_FILE).read_bytes())
    doc["pages"][0]["next_file"] = "users_0003.json"
    (folder / MANIFEST_FILE).write_bytes(encode_manifest(doc))
    assert "does not link users_0001.json to the page after it" in broken(folder)


def test_the_recorded_count_is_checked_again(tmp_path: Path) -> None:
    assert "3 users paged but Graph's $count says 30" in broken(saved(tmp_path / "g", count=30))


def test_a_pull_that_did_not_verify_its_count_replays_unproven(tmp_path: Path) -> None:
    replay = pull(saved(tmp_path / "g", count=None))
    assert not replay.complete and "not proven complete" in replay.notes[0]


def test_a_manifest_that_is_not_one_is_an_input_error(tmp_path: Path) -> None:
    folder = saved(tmp_path / "g", format="something else")
    with pytest.raises(InputError, match="not a licensewatch pull manifest"):
        pull(folder)


def test_without_a_manifest_a_middle_page_without_next_link_is_incomplete(tmp_path: Path) -> None:
    folder = tmp_path / "g"
    write_pages(folder, page([user(1)], last=False), page([user(2)]), page([user(3)]))
    assert "users_2.json has no @odata.nextLink but users_3.json follows" in broken(folder)


def test_without_a_manifest_a_gap_in_the_numbers_is_a_missing_page(tmp_path: Path) -> None:
    folder = tmp_path / "g"
    write_pages(
        folder,
        page([user(1)], last=False),
        page([user(3)]),
        names=["users_0001.json", "users_0003.json"],
    )
    assert "page 2 is missing" in broken(folder)
