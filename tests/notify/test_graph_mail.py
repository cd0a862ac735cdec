"""The graph transport: sendMail JSON from the composed notice, and how Graph's answers are sorted.

Graph is faked with ``responses`` (the identity platform too, with the Graph
source's recorded token answers); nothing reaches a tenant and no test waits.
"""

from __future__ import annotations

import base64
import csv
import email
import io
import json
import logging
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from sqlalchemy.orm import Session
from urllib3.exceptions import MaxRetryError, NewConnectionError

from licensewatch import store
from licensewatch.config import SourceSettings
from licensewatch.errors import ConfigError, DeliveryError, DeliveryUnknown, TransportUnavailable
from licensewatch.notify.delivery import deliver, queue_notices
from licensewatch.notify.mime import POLICY
from licensewatch.notify.transports.graph import (
    GraphMailOptions,
    GraphMailTransport,
    send_mail_body,
)
from licensewatch.store import outbox as outbox_store
from licensewatch.store.outbox import UNKNOWN_GRACE
from tests.notify.org import compose
from tests.sources.graph.conftest import (
    CLIENT,
    FIRST_TOKEN,
    GRAPH,
    OPENID_URL,
    SECOND_TOKEN,
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
from tests.store.conftest import db_url, pg_server_url  # noqa: F401 - the fixtures

pytestmark = pytest.mark.usefixtures("no_real_sleep")  # tests/conftest.py

MAILBOX = "licensing@contoso.org"
SEND_URL = f"{GRAPH}/users/{MAILBOX}/sendMail"
LOGIN = [("GET", OPENID_URL), ("POST", TOKEN_URL)]
NOTICES, _ = compose()
FINANCE = NOTICES[0]
RESEARCH = next(n for n in NOTICES if n.department == "研究部")
#: What urllib3 raises when nothing answers on the port (the request was never sent).
REFUSED = NewConnectionError(None, "Failed to establish a new connection: Connection refused")  # type: ignore[arg-type]
ACCESS_DENIED = {"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}}


def options(tmp_path: Path, **table: Any) -> GraphMailOptions:
    """``[mail.graph]`` with its own app credentials, plus ``table``."""
    values = {
        "mailbox": MAILBOX,
        "tenant_id": TENANT,
        "client_id": CLIENT,
        "client_secret_env": SECRET_ENV,
        **table,
    }
    return GraphMailOptions.from_tables(values, None, tmp_path)


def transport(tmp_path: Path, waits: Waits, **table: Any) -> GraphMailTransport:
    """A transport that never sleeps, draws 0.5 for jitter and reads the secret from a dict."""
    return GraphMailTransport(
        options(tmp_path, **table), environ={SECRET_ENV: SECRET}, sleep=waits, random=lambda: 0.5
    )


def sent_json(call: Any) -> dict[str, Any]:
    """The JSON body of a recorded request."""
    body = call.request.body
    doc = json.loads(body if isinstance(body, bytes) else str(body))
    assert isinstance(doc, dict)
    return doc


def accepted(mock: responses.RequestsMock) -> None:
    """sendMail's documented success: 202 Accepted with no body."""
    mock.post(SEND_URL, status=202, body="")


def test_the_notice_becomes_the_documented_send_mail_json(
    rsps: responses.RequestsMock, tmp_path: Path
) -> None:
    add_login(rsps)
    accepted(rsps)
    waits = Waits()
    with transport(tmp_path, waits) as mail:
        mail.send(FINANCE.message, key=FINANCE.key)

    assert calls(rsps) == [*LOGIN, ("POST", SEND_URL)]
    call = rsps.calls[-1]
    assert bearer(call) == f"Bearer {FIRST_TOKEN}"
    assert call.request.headers["Content-Type"] == "application/json"
    doc = sent_json(call)
    assert doc["saveToSentItems"] is True
    msg = doc["message"]
    assert msg["subject"] == str(FINANCE.message["Subject"])
    html = FINANCE.message.get_body(("html",))
    assert html is not None
    assert msg["body"] == {"contentType": "HTML", "content": html.get_content()}
    assert msg["toRecipients"] == [{"emailAddress": {"address": "fp.finance@x.org"}}]
    assert msg["replyTo"] == [{"emailAddress": {"address": "ict-licensing@contoso.org"}}]
    assert "ccRecipients" not in msg and "bccRecipients" not in msg and "from" not in msg
    # Graph refuses custom headers not starting with x-: Message-ID, Auto-Submitted stay out.
    assert msg["internetMessageHeaders"] == [
        {"name": "X-Licensewatch-Run", "value": "run0123abcd"},
        {"name": "X-Licensewatch-Key", "value": FINANCE.key},
        {"name": "X-Auto-Response-Suppress", "value": "All"},
    ]
    workbook, attachment = msg["attachments"]
    xlsx, part = FINANCE.message.iter_attachments()
    assert workbook["name"] == xlsx.get_filename() == "licensewatch_finance_2019-12-31.xlsx"
    assert workbook["contentType"] == xlsx.get_content_type()
    assert base64.b64decode(workbook["contentBytes"]) == xlsx.get_payload(decode=True)
    assert attachment["@odata.type"] == "#microsoft.graph.fileAttachment"
    assert attachment["name"] == part.get_filename() == "licensewatch_finance_2019-12-31.csv"
    assert attachment["contentType"] == "text/csv"
    data = base64.b64decode(attachment["contentBytes"], validate=True)
    assert data == part.get_payload(decode=True)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert {r["subject"] for r in rows} == {"bob@x.org", "SEP000000000002"}


def test_cc_non_latin_subject_and_save_to_sent_items_false(
    rsps: responses.RequestsMock, tmp_path: Path
) -> None:
    add_login(rsps)
    accepted(rsps)
    legal = next(n for n in NOTICES if n.department == "LEGAL")
    with transport(tmp_path, Waits(), save_to_sent_items=False) as mail:
        mail.send(RESEARCH.message, key=RESEARCH.key)
        mail.send(legal.message, key=legal.key)
    research, legal_doc = (sent_json(rsps.calls[n]) for n in (2, 3))
    assert "研究部" in research["message"]["subject"]
    assert research["saveToSentItems"] is False
    assert [r["emailAddress"]["address"] for r in legal_doc["message"]["toRecipients"]] == [
        "fp.legal@x.org",
        "boss.legal@x.org",
    ]
    assert legal_doc["message"]["ccRecipients"] == [
        {"emailAddress": {"address": "legal.assistant@x.org"}}
    ]
    # One token for the run: the second message reuses it.
    assert calls(rsps) == [*LOGIN, ("POST", SEND_URL), ("POST", SEND_URL)]


def test_display_names_bcc_and_a_text_only_body() -> None:
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = "Überprüfung — 研究部"
    msg["To"] = '王小明 <wang@x.org>, "Müller, Zoë" <zoe@x.org>'
    msg["Bcc"] = "audit@x.org"
    msg["Reply-To"] = "ICT Licensing <ict@x.org>"
    msg["X-Custom"] = "kept"
    msg["Precedence"] = "bulk"
    msg.set_content("plain only\n")
    doc = send_mail_body(msg)["message"]
    assert doc["subject"] == "Überprüfung — 研究部"
    assert doc["body"] == {"contentType": "Text", "content": "plain only\n"}
    assert doc["toRecipients"] == [
        {"emailAddress": {"address": "wang@x.org", "name": "王小明"}},
        {"emailAddress": {"address": "zoe@x.org", "name": "Müller, Zoë"}},
    ]
    assert doc["bccRecipients"] == [{"emailAddress": {"address": "audit@x.org"}}]
    assert doc["replyTo"] == [{"emailAddress": {"address": "ict@x.org", "name": "ICT Licensing"}}]
    assert doc["internetMessageHeaders"] == [{"name": "X-Custom", "value": "kept"}]
    assert "attachments" not in doc


def test_429_waits_for_retry_after_then_sends_once(
    rsps: responses.RequestsMock, tmp_path: Path
) -> None:
    add_login(rsps)
    rsps.post(
        SEND_URL,
        status=429,
        body=raw("error_429.json"),
        content_type="application/json",
        headers={"Retry-After": "2.128"},
    )
    accepted(rsps)
    waits = Waits()
    with transport(tmp_path, waits) as mail:
        mail.send(FINANCE.message, key=FINANCE.key)
    assert waits == [2.128]
    assert calls(rsps) == [*LOGIN, ("POST", SEND_URL), ("POST", SEND_URL)]
    assert sent_json(rsps.calls[2]) == sent_json(rsps.calls[3])


@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.ConnectTimeout("connect timed out"),
        requests.ConnectionError(MaxRetryError(None, SEND_URL, REFUSED)),  # type: ignore[arg-type]
        503,
    ],
    ids=["connect-timeout", "no-connection", "503"],
)
def test_failures_before_graph_processed_anything_are_retried(
    rsps: responses.RequestsMock, tmp_path: Path, failure: Exception | int
) -> None:
    add_login(rsps)
    if isinstance(failure, int):
        rsps.post(SEND_URL, status=failure, body=raw("error_503.json"))
    else:
        rsps.post(SEND_URL, body=failure)
    accepted(rsps)
    waits = Waits()
    with transport(tmp_path, waits) as mail:
        mail.send(FINANCE.message, key=FINANCE.key)
    assert waits == [0.75]  # backoff for retry 1: 1 s x (0.5 + 0.5 x 0.5)
    assert calls(rsps)[2:] == [("POST", SEND_URL)] * 2


@pytest.mark.parametrize(
    "failure",
    [
        requests.ReadTimeout("read timed out"),
        requests.ConnectionError("Connection aborted: connection reset by peer"),
        502,
        504,
    ],
    ids=["read-timeout", "reset-after-sending", "502", "504"],
)
def test_no_answer_after_sending_is_not_retried(
    rsps: responses.RequestsMock, tmp_path: Path, failure: Exception | int
) -> None:
    add_login(rsps)
    if isinstance(failure, int):
        rsps.post(SEND_URL, status=failure, body="")
    else:
        rsps.post(SEND_URL, body=failure)
    accepted(rsps)
    waits = Waits()
    with transport(tmp_path, waits) as mail, pytest.raises(DeliveryUnknown) as caught:
        mail.send(FINANCE.message, key=FINANCE.key)
    assert "may or may not have been processed" in caught.value.message
    assert FINANCE.key in caught.value.message
    assert waits == [] and calls(rsps)[2:] == [("POST", SEND_URL)]


def test_401_gets_one_new_token_and_resends(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    add_login(rsps, "token.json", "token_refreshed.json")
    rsps.post(SEND_URL, status=401, body=raw("error_401.json"), content_type="application/json")
    accepted(rsps)
    with transport(tmp_path, Waits()) as mail:
        mail.send(FINANCE.message, key=FINANCE.key)
    assert calls(rsps) == [*LOGIN, ("POST", SEND_URL), ("POST", TOKEN_URL), ("POST", SEND_URL)]
    assert [bearer(c) for c in rsps.calls if c.request.url == SEND_URL] == [
        f"Bearer {FIRST_TOKEN}",
        f"Bearer {SECOND_TOKEN}",
    ]


def test_a_second_401_makes_the_transport_unavailable(
    rsps: responses.RequestsMock, tmp_path: Path
) -> None:
    add_login(rsps, "token.json", "token_refreshed.json")
    rsps.post(SEND_URL, status=401, body=raw("error_401.json"), content_type="application/json")
    with transport(tmp_path, Waits()) as mail, pytest.raises(TransportUnavailable) as caught:
        mail.send(FINANCE.message, key=FINANCE.key)
    assert "InvalidAuthenticationToken" in caught.value.message
    assert len([c for c in rsps.calls if c.request.url == SEND_URL]) == 2


def test_403_names_the_mail_send_permission(rsps: responses.RequestsMock, tmp_path: Path) -> None:
    add_login(rsps)
    rsps.post(SEND_URL, status=403, json=ACCESS_DENIED)
    with transport(tmp_path, Waits()) as mail, pytest.raises(TransportUnavailable) as caught:
        mail.send(FINANCE.message, key=FINANCE.key)
    assert "ErrorAccessDenied" in caught.value.message and MAILBOX in caught.value.message
    assert caught.value.hint is not None
    assert "Mail.Send application permission" in caught.value.hint
    assert "application access policy" in caught.value.hint


@pytest.mark.parametrize(
    ("status", "code", "message", "hint"),
    [
        (
            400,
            "InvalidInternetMessageHeader",
            "The internet message header name 'Precedence' should start with 'x-' or 'X-'.",
            "Graph says why",
        ),
        (404, "ErrorInvalidUser", f"The requested user '{MAILBOX}' is invalid.", "mailbox"),
        (413, "RequestEntityTooLarge", "The request is too large.", "smtp transport"),
    ],
)
def test_a_refused_message_is_a_delivery_error_for_that_message(
    rsps: responses.RequestsMock, tmp_path: Path, status: int, code: str, message: str, hint: str
) -> None:
    add_login(rsps)
    rsps.post(SEND_URL, status=status, json={"error": {"code": code, "message": message}})
    with transport(tmp_path, Waits()) as mail, pytest.raises(DeliveryError) as caught:
        mail.send(FINANCE.message, key=FINANCE.key)
    assert type(caught.value) is DeliveryError  # not TransportUnavailable: the others still go
    assert FINANCE.key in caught.value.message
    assert f"HTTP {status} {code}: {message}" in caught.value.message
    assert caught.value.hint is not None and hint in caught.value.hint


def test_spent_retry_budget_makes_the_transport_unavailable(
    rsps: responses.RequestsMock, tmp_path: Path
) -> None:
    add_login(rsps)
    rsps.post(SEND_URL, status=429, body=raw("error_429.json"), headers={"Retry-After": "1"})
    waits = Waits()
    mail = transport(tmp_path, waits, max_retries=2)
    with mail, pytest.raises(TransportUnavailable) as caught:
        mail.send(FINANCE.message, key=FINANCE.key)
    assert waits == [1.0, 1.0]
    assert "after 2 retries" in caught.value.message
    assert "did not process it" in caught.value.message
    assert caught.value.hint is not None and "[mail.graph]" in caught.value.hint


def test_a_message_over_4_mb_is_refused_before_sending(
    rsps: responses.RequestsMock, tmp_path: Path
) -> None:
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = "big"
    msg["To"] = "fp@x.org"
    msg.set_content("see attachment")
    msg.add_attachment(b"\x00" * 3_100_000, maintype="application", subtype="octet-stream")
    with transport(tmp_path, Waits()) as mail, pytest.raises(DeliveryError) as caught:
        mail.send(msg, key="big")
    assert "4 MB" in caught.value.message and "big" in caught.value.message
    assert len(rsps.calls) == 0


def test_secret_and_tokens_never_reach_errors_or_logs(
    rsps: responses.RequestsMock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    add_login(rsps, "token.json", "token_refreshed.json")
    rsps.post(SEND_URL, status=401, body=raw("error_401.json"), content_type="application/json")
    rsps.post(SEND_URL, status=403, json=ACCESS_DENIED)
    errors: list[str] = []
    with transport(tmp_path, Waits()) as mail:
        with pytest.raises(TransportUnavailable) as caught:
            mail.send(FINANCE.message, key=FINANCE.key)
        errors.append(caught.value.one_line())
    # A refused secret: the identity platform's error comes back, the secret does not.
    refused = GraphMailTransport(options(tmp_path), environ={SECRET_ENV: SECRET})
    rsps.replace(responses.POST, TOKEN_URL, body=raw("token_error_invalid_client.json"), status=401)
    with refused, pytest.raises(TransportUnavailable) as caught:
        refused.send(FINANCE.message, key=FINANCE.key)
    errors.append(caught.value.one_line())
    assert "invalid_client" in errors[-1]
    for text in [caplog.text, *errors, repr(refused.options)]:
        for secret in (SECRET, FIRST_TOKEN, SECOND_TOKEN):
            assert secret not in text


def test_nothing_is_opened_before_the_first_send_and_close_closes_it(
    rsps: responses.RequestsMock, tmp_path: Path
) -> None:
    opened: list[requests.Session] = []

    def session() -> requests.Session:
        opened.append(requests.Session())
        return opened[-1]

    mail = GraphMailTransport(
        options(tmp_path), environ={SECRET_ENV: SECRET}, session_factory=session
    )
    assert opened == [] and len(rsps.calls) == 0
    add_login(rsps)
    accepted(rsps)
    mail.send(FINANCE.message, key=FINANCE.key)
    mail.send(RESEARCH.message, key=RESEARCH.key)
    assert len(opened) == 1
    closed: list[bool] = []
    opened[0].close = lambda: closed.append(True)  # type: ignore[method-assign]
    mail.close()
    mail.close()
    assert closed == [True]


def test_a_missing_secret_fails_at_construction_naming_the_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        GraphMailTransport(options(tmp_path), environ={})
    assert caught.value.message.startswith("[mail.graph] client_secret_env names $" + SECRET_ENV)


ACCOUNTS = SourceSettings(
    feed="accounts",
    kind="graph",
    options={
        "tenant_id": TENANT,
        "client_id": CLIENT,
        "client_secret_env": SECRET_ENV,
        "page_size": 3,
        "activity": "usage-report",
        "timeout_s": 30,
    },
    base_dir=Path("/etc/licensewatch"),
)


def test_reuses_the_graph_sources_credentials(tmp_path: Path) -> None:
    reused = GraphMailOptions.from_tables({"mailbox": f" {MAILBOX} "}, ACCOUNTS, tmp_path)
    assert reused.mailbox == MAILBOX and reused.save_to_sent_items is True
    graph = reused.graph
    assert (graph.tenant_id, graph.client_id, graph.client_secret_env) == (
        TENANT,
        CLIENT,
        SECRET_ENV,
    )
    assert graph.timeout_s == 30.0 and graph.max_retries == 6
    assert reused.credential_table == "[sources.accounts]"
    with pytest.raises(ConfigError, match=r"^\[sources\.accounts\] client_secret_env names"):
        GraphMailTransport(reused, environ={})


def test_reusing_credentials_with_own_connection_keys(tmp_path: Path) -> None:
    table = {"mailbox": MAILBOX, "max_retries": 2, "ca_bundle": "ca.pem"}
    reused = GraphMailOptions.from_tables(table, ACCOUNTS, tmp_path)
    assert reused.graph.client_id == CLIENT and reused.graph.max_retries == 2
    assert reused.graph.ca_bundle == tmp_path / "ca.pem" and reused.graph.timeout_s == 30.0
    with pytest.raises(ConfigError, match=r"^\[mail\.graph\] max_retries must be 0 to 20"):
        GraphMailOptions.from_tables({**table, "max_retries": 99}, ACCOUNTS, tmp_path)


def test_own_credentials_win_over_the_sources(tmp_path: Path) -> None:
    other = "99990000-aaaa-bbbb-cccc-ddddeeeeffff"
    own = options(tmp_path, client_id=other)
    reused_too = GraphMailOptions.from_tables(
        {
            "mailbox": MAILBOX,
            "tenant_id": TENANT,
            "client_id": other,
            "client_secret_env": "MAIL_SECRET",
        },
        ACCOUNTS,
        tmp_path,
    )
    assert own.graph.client_id == reused_too.graph.client_id == other
    assert reused_too.graph.client_secret_env == "MAIL_SECRET"
    assert reused_too.graph.timeout_s == 60.0  # nothing taken from [sources.accounts]
    assert reused_too.credential_table == "[mail.graph]"


@pytest.mark.parametrize(
    ("table", "accounts", "says", "hint"),
    [
        ({"mailbox": MAILBOX, "page_size": 3}, ACCOUNTS, "unknown key 'page_size'", "correct"),
        ({"client_id": CLIENT, "tenant_id": TENANT}, None, "needs 'mailbox'", "shared mailbox"),
        ({"mailbox": ""}, ACCOUNTS, "needs 'mailbox'", "mailbox ="),
        ({"mailbox": MAILBOX, "save_to_sent_items": "no"}, ACCOUNTS, "true or false", None),
        ({"mailbox": MAILBOX}, None, "no tenant_id/client_id", "Mail.Send"),
        (
            {"mailbox": MAILBOX},
            SourceSettings("accounts", "csv", {"path": "a.csv"}, Path()),
            "not of kind 'graph'",
            "client_secret_env",
        ),
        (
            {"mailbox": MAILBOX, "client_secret_env": "X"},
            ACCOUNTS,
            "has client_secret_env but no tenant_id and client_id",
            "none of them",
        ),
        ({"mailbox": MAILBOX, "tenant_id": TENANT}, None, "[mail.graph] needs 'client_id'", None),
        (
            {"mailbox": MAILBOX, "tenant_id": TENANT, "client_id": CLIENT},
            None,
            "[mail.graph] needs exactly one of client_secret_env and certificate_path",
            None,
        ),
        (
            {"mailbox": MAILBOX, "graph_url": "ftp://x"},
            ACCOUNTS,
            "[mail.graph] graph_url must be an https URL",
            None,
        ),
    ],
)
def test_options_are_validated(
    tmp_path: Path,
    table: dict[str, Any],
    accounts: SourceSettings | None,
    says: str,
    hint: str | None,
) -> None:
    with pytest.raises(ConfigError) as caught:
        GraphMailOptions.from_tables(table, accounts, tmp_path)
    assert says in caught.value.message
    assert "[sources.mail.graph]" not in caught.value.one_line()
    if hint is not None:
        assert caught.value.hint is not None and hint in caught.value.hint


def test_unknown_keys_list_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        GraphMailOptions.from_tables({"mailbox": MAILBOX, "sender": "x", "to": "y"}, None, tmp_path)
    assert "unknown keys 'sender', 'to' in [mail.graph]" in caught.value.message
    assert "valid keys are: mailbox, save_to_sent_items, tenant_id" in caught.value.message


# -- issue 13, item 11: unknown outcome, Sent Items lookup, folded key header -------------

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "graph_mail"
SENT_ITEMS = f"{GRAPH}/users/{MAILBOX}/mailFolders/sentitems/messages"


def sent_items(mock: responses.RequestsMock, key: str, fixture: str) -> None:
    """The Sent Items lookup of ``key`` (the documented filter on PS_INTERNET_HEADERS)."""
    prop = "String {00020386-0000-0000-C000-000000000046} Name x-licensewatch-key"
    mock.get(
        SENT_ITEMS,
        body=(FIXTURES / fixture).read_bytes(),
        content_type="application/json",
        match=[
            responses.matchers.query_param_matcher(
                {
                    "$filter": f"singleValueExtendedProperties/any(ep: ep/id eq '{prop}' "
                    f"and ep/value eq '{key}')",
                    "$select": "id,internetMessageId",
                    "$top": "1",
                }
            )
        ],
    )


@pytest.mark.parametrize("status", [502, 504])
def test_no_answer_is_an_unknown_outcome(
    rsps: responses.RequestsMock, tmp_path: Path, status: int
) -> None:
    add_login(rsps)
    rsps.post(SEND_URL, status=status, body="")
    with transport(tmp_path, Waits()) as mail, pytest.raises(DeliveryUnknown) as caught:
        mail.send(FINANCE.message, key=FINANCE.key)
    assert not isinstance(caught.value, TransportUnavailable)
    assert "Sent Items" in caught.value.one_line()


@pytest.mark.parametrize(
    ("fixture", "found"), [("sentitems_found.json", True), ("sentitems_empty.json", False)]
)
def test_find_sent_looks_for_the_key_in_sent_items(
    rsps: responses.RequestsMock, tmp_path: Path, fixture: str, found: bool
) -> None:
    add_login(rsps)
    sent_items(rsps, FINANCE.key, fixture)
    with transport(tmp_path, Waits()) as mail:
        assert mail.find_sent(FINANCE.message, key=FINANCE.key) is found
    with transport(tmp_path, Waits(), save_to_sent_items=False) as mail:
        assert mail.find_sent(FINANCE.message, key=FINANCE.key) is None  # nothing kept


@pytest.mark.parametrize("found", [True, False])
def test_an_unknown_outcome_is_checked_in_sent_items_before_it_is_sent_again(
    rsps: responses.RequestsMock,
    tmp_path: Path,
    db_url: str,  # noqa: F811 - fixture injection
    found: bool,
) -> None:
    engine = store.open_engine(db_url)
    try:
        store.upgrade(engine)
        with Session(engine) as session:
            queue_notices(
                session, [FINANCE], as_of=date(2019, 12, 31), run_id=1, now=datetime.now(UTC)
            )
            session.commit()
        add_login(rsps)
        rsps.post(SEND_URL, body=requests.ReadTimeout("read timed out"))
        now = datetime.now(UTC)
        first = deliver(engine, transport(tmp_path, Waits()), name="graph", clock=lambda: now)
        assert (first.unknown, first.sent) == (1, 0)
        assert first.undelivered == ("Finance notice of 2019-12-31",)
        # Within the grace nothing is asked nor sent.
        soon = now + UNKNOWN_GRACE - timedelta(minutes=1)
        assert (
            deliver(engine, transport(tmp_path, Waits()), name="graph", clock=lambda: soon).unknown
            == 0
        )
        assert [m for m, _ in calls(rsps)].count("POST") == 2  # token + one sendMail
        add_login(rsps)
        sent_items(rsps, FINANCE.key, "sentitems_found.json" if found else "sentitems_empty.json")
        accepted(rsps)
        later = now + UNKNOWN_GRACE + timedelta(minutes=1)
        again = deliver(engine, transport(tmp_path, Waits()), name="graph", clock=lambda: later)
        assert (again.sent, again.complete) == (1, True)
        posts = [u for m, u in calls(rsps) if m == "POST" and u == SEND_URL]
        assert len(posts) == (1 if found else 2)
        assert ("GET", SENT_ITEMS) in [(m, u.split("?")[0]) for m, u in calls(rsps)]
        with Session(engine) as session:
            [entry] = outbox_store.entries(session)
        assert entry.status == "sent"
    finally:
        engine.dispose()


def test_a_folded_key_header_reaches_graph_without_a_leading_space() -> None:
    wrong = []
    for n in range(120):
        key = f"2019-12-31_notice_{'d' * n}_0123456789ab"
        message = EmailMessage(policy=POLICY)
        message["Subject"] = "s"
        message["X-Licensewatch-Key"] = key
        message.set_content("body")
        parsed = email.message_from_bytes(message.as_bytes(), policy=POLICY)
        headers = send_mail_body(parsed)["message"]["internetMessageHeaders"]
        if headers != [{"name": "X-Licensewatch-Key", "value": key}]:
            wrong.append(n)
    assert wrong == []
