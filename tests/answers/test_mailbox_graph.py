"""The Graph answers mailbox against recorded payloads in Graph's documented format."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import openpyxl
import pytest
import requests
import responses

from licensewatch.answers.mailbox.graph import GraphMailbox
from licensewatch.graph.client import GraphHttp
from licensewatch.graph.errors import GraphUnavailable

pytestmark = pytest.mark.usefixtures("no_real_sleep")  # tests/conftest.py

GRAPH = "https://graph.microsoft.com/v1.0"
MAILBOX = "ict-licensing@contoso.org"
BASE = f"{GRAPH}/users/{MAILBOX}"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "graph_answers"
#: The first message's id, as in messages_page1.json (it holds "=" and "-", quoted in URLs).
FIRST_ID = json.loads((FIXTURES / "messages_page1.json").read_text(encoding="utf-8"))["value"][0][
    "id"
]


class _Tokens:
    requests = 0

    def token(self) -> str:
        return "token-1"

    def refresh(self) -> str:
        return "token-2"


def _doc(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _mailbox(waits: list[float]) -> GraphMailbox:
    http = GraphHttp(
        _Tokens(),
        graph_url=GRAPH,
        session=requests.Session(),
        timeout=(5.0, 30.0),
        sleep=waits.append,
        random=lambda: 0.5,
        config_table="[answers.graph]",
    )
    return GraphMailbox(http, graph_url=GRAPH, mailbox=MAILBOX, folder="inbox")


def _workbook() -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["resource_id", "decision"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _register_messages(rsps: responses.RequestsMock, *, throttle: bool = False) -> bytes:
    messages = re.compile(re.escape(f"{BASE}/mailFolders/inbox/messages") + r"\?.*")
    page1, page2 = _doc("messages_page1.json"), _doc("messages_page2.json")
    if throttle:
        rsps.get(
            messages,
            status=429,
            headers={"Retry-After": "7"},
            json={
                "error": {
                    "code": "ApplicationThrottled",
                    "message": "Application is over its MailboxConcurrency limit.",
                }
            },
        )
    rsps.get(messages, json=page1)
    rsps.get(messages, json=page2)
    message = quote(FIRST_ID, safe="")
    rsps.get(
        re.compile(re.escape(f"{BASE}/messages/{message}/attachments") + r"\?\$select=.*"),
        json=_doc("attachments_list.json"),
    )
    listed = _doc("attachments_list.json")["value"][0]
    data = _workbook()
    whole = {**listed, "contentBytes": base64.b64encode(data).decode("ascii"), "size": len(data)}
    rsps.get(f"{BASE}/messages/{message}/attachments/{quote(listed['id'], safe='')}", json=whole)
    return data


def test_lists_every_page_and_reads_file_attachments_only(rsps: responses.RequestsMock) -> None:
    data = _register_messages(rsps)
    found = list(_mailbox([]).incoming(trusted_authserv_id=None))
    assert [m.message_id for m in found] == [
        "<DB7PR08MB1234ABCD@DB7PR08MB1234.eurprd08.prod.outlook.com>",
        "<CAK1external@mail.gmail.com>",
    ]
    first, second = found
    assert first.sender == "ana.perez@contoso.org"
    assert first.authentication.authenticated  # AuthAs: Internal
    assert [(a.filename, a.problem == "", a.data == data) for a in first.attachments] == [
        ("Finance-answers.xlsx", True, True),
        ("Original notice", False, False),
        ("Finance-answers.xlsm", False, False),
    ]
    assert "macro" in first.attachments[2].problem
    # Gmail passed its own checks, but that is not the organization's mail system.
    assert not second.authentication.authenticated
    assert second.attachments == ()
    # The attachment list was read without content; only the .xlsx was fetched whole.
    fetched = [c.request.url for c in rsps.calls if "/attachments/" in c.request.url]
    assert len(fetched) == 1


def test_429_waits_for_retry_after_then_goes_on(rsps: responses.RequestsMock) -> None:
    _register_messages(rsps, throttle=True)
    waits: list[float] = []
    assert len(list(_mailbox(waits).incoming(trusted_authserv_id=None))) == 2
    assert waits == [7.0]


def test_move_creates_the_folder_path_once_and_posts_its_id(rsps: responses.RequestsMock) -> None:
    rsps.get(
        re.compile(re.escape(f"{BASE}/mailFolders") + r"\?\$filter=.*"),
        json=_doc("folders_none.json"),
    )
    rsps.post(f"{BASE}/mailFolders", status=201, json={"id": "F-LW", "displayName": "licensewatch"})
    rsps.get(
        re.compile(re.escape(f"{BASE}/mailFolders/F-LW/childFolders") + r"\?\$filter=.*"),
        json=_doc("folders_none.json"),
    )
    rsps.post(
        f"{BASE}/mailFolders/F-LW/childFolders",
        status=201,
        json={"id": "F-PROC", "displayName": "processed"},
    )
    rsps.post(f"{BASE}/messages/m1/move", status=201, json={"id": "m1-moved"})
    rsps.post(f"{BASE}/messages/m2/move", status=201, json={"id": "m2-moved"})
    mailbox = _mailbox([])
    mailbox.move("m1", "licensewatch/processed")
    mailbox.move("m2", "licensewatch/processed")
    moves = [json.loads(c.request.body) for c in rsps.calls if c.request.url.endswith("/move")]
    assert moves == [{"destinationId": "F-PROC"}, {"destinationId": "F-PROC"}]
    created = [
        json.loads(c.request.body)
        for c in rsps.calls
        if c.request.url.endswith(("Folders", "childFolders"))
    ]
    assert created == [{"displayName": "licensewatch"}, {"displayName": "processed"}]


def test_an_existing_folder_is_found_not_created(rsps: responses.RequestsMock) -> None:
    rsps.get(
        re.compile(re.escape(f"{BASE}/mailFolders") + r"\?\$filter=.*"),
        json={"value": [{"id": "F-REJ", "displayName": "Rejected"}]},
    )
    rsps.post(f"{BASE}/messages/m1/move", status=201, json={"id": "m1-moved"})
    _mailbox([]).move("m1", "rejected")
    assert [c.request.method for c in rsps.calls] == ["GET", "POST"]


def test_a_mailbox_that_stays_unavailable_fails_the_read(rsps: responses.RequestsMock) -> None:
    messages = re.compile(re.escape(f"{BASE}/mailFolders/inbox/messages") + r"\?.*")
    rsps.get(messages, status=503, json={"error": {"code": "ServiceUnavailable", "message": "x"}})
    with pytest.raises(GraphUnavailable):
        list(_mailbox([]).incoming(trusted_authserv_id=None))
