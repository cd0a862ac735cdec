"""Every Graph property licensewatch reads or writes, against Microsoft Graph's v1.0 CSDL.

What is checked, taken from the code rather than copied by hand:

- the ``$select`` of the users query, as the live source sends it (captured
  through ``responses``, with ``signInActivity`` and with the usage report),
  and the demo's, on ``user``;
- the properties the parsers read: their constants (``USER_FIELDS``,
  ``TEXT_FIELDS``, ``SIGN_IN_FIELDS`` …) and every literal ``.get("…")`` in
  ``graph.py`` and ``graph_export.py``, on ``user``, ``signInActivity``,
  ``assignedLicense`` or ``subscribedSku`` (or OData control information),
  and the JSON names the live pull's typed pages decode (``typed_page``);
- the ``sendMail`` and ``assignLicense`` bodies the transport and the remover
  POST, against the actions' parameters and the types below them (``message``,
  ``recipient``, ``itemBody``, ``internetMessageHeader``, ``fileAttachment`` by
  its ``@odata.type``, ``Collection(Edm.Guid)``);
- every users page and ``subscribedSkus`` answer in ``tests/fixtures/graph*``
  and in a small demo export, property by property.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Iterator
from datetime import date
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from licensewatch.answers.licence_removal import GraphLicenseRemover, LicenseRemoval
from licensewatch.answers.mailbox import graph as mailbox
from licensewatch.demo import generate
from licensewatch.demo.graph_pages import SELECT as DEMO_SELECT
from licensewatch.graph.options import SIGN_IN, GraphOptions
from licensewatch.notify.transports.graph import GraphMailOptions, GraphMailTransport
from licensewatch.sources.graph import export as graph_export
from licensewatch.sources.graph import live as graph
from licensewatch.sources.graph import typed_page, user_fields
from tests.conformance import csdl
from tests.conformance.csdl import Csdl, check, check_action
from tests.notify.org import compose
from tests.sources.graph.conftest import (
    CLIENT,
    GRAPH,
    REPORT_URL,
    SECRET,
    SECRET_ENV,
    SKUS_URL,
    TENANT,
    USERS_NOSIGNIN_URL,
    USERS_URL,
    Waits,
    add_json,
    add_login,
    add_users,
    graph_settings,
    make_source,
    raw,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
USER = "microsoft.graph.user"
SKU = "microsoft.graph.subscribedSku"
MESSAGE = "microsoft.graph.message"
ATTACHMENT = "microsoft.graph.attachment"
MAIL_FOLDER = "microsoft.graph.mailFolder"
#: JSON fixtures that are no Graph resource: identity-platform answers and error bodies.
NOT_RESOURCES = ("token", "openid_configuration", "instance_discovery", "error_")
MAILBOX = "licensing@contoso.org"
E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"


@pytest.fixture(scope="module")
def graph_csdl(schemas: Path) -> Csdl:
    """Graph v1.0's CSDL, parsed once (about half a second)."""
    return csdl.load(schemas / "graph-v1.0" / "v1.0-Prod.csdl")


def _selected(url: str) -> list[str]:
    (select,) = parse_qs(urlsplit(url).query)["$select"]
    return select.split(",")


def _missing(model: Csdl, type_name: str, names: Iterable[str]) -> list[str]:
    return [n for n in names if model.property(type_name, n) is None]


def _users_requests(mock: responses.RequestsMock) -> list[str]:
    return [c.request.url or "" for c in mock.calls if "/users?" in (c.request.url or "")]


def test_the_live_users_select_names_only_user_properties(
    graph_csdl: Csdl, rsps: responses.RequestsMock, tmp_path: Path
) -> None:
    add_login(rsps)
    add_json(rsps, SKUS_URL, "subscribedSkus.json")
    add_users(rsps)
    add_users(rsps, sign_in=False)
    rsps.get(REPORT_URL, status=302, headers={"Location": f"{GRAPH}/download"}, body="")
    rsps.get(f"{GRAPH}/download", body=raw("report_D180.csv"))
    make_source(graph_settings(tmp_path / "a"), Waits()).pull()
    make_source(graph_settings(tmp_path / "b", activity="usage-report"), Waits()).pull()
    first = [u for u in _users_requests(rsps) if u in (USERS_URL, USERS_NOSIGNIN_URL)]
    assert first == [USERS_URL, USERS_NOSIGNIN_URL]
    with_sign_in, without = (_selected(u) for u in first)
    assert with_sign_in == [*graph.USER_FIELDS, SIGN_IN] and without == list(graph.USER_FIELDS)
    for url in _users_requests(rsps):  # the nextLinks keep the $select
        assert _missing(graph_csdl, USER, _selected(url)) == [], url
    assert _missing(graph_csdl, USER, DEMO_SELECT.split(",")) == []


def _literal_gets(module: ModuleType) -> set[str]:
    """Every ``x.get("literal")`` in a module's source, headers aside."""
    tree = ast.parse(Path(str(module.__file__)).read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and "headers" not in ast.unparse(node.func.value)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


def test_every_property_the_parsers_read_is_declared(graph_csdl: Csdl) -> None:
    user_props = {*user_fields.TEXT_FIELDS, user_fields.SIGNAL, *graph.USER_FIELDS, SIGN_IN}
    assert _missing(graph_csdl, USER, user_props) == []
    activity = graph_csdl.property(USER, user_fields.SIGNAL)
    assert activity is not None
    assert _missing(graph_csdl, activity.type, user_fields.SIGN_IN_FIELDS) == []
    licences = graph_csdl.property(USER, "assignedLicenses")
    assert licences is not None and licences.type == "Collection(microsoft.graph.assignedLicense)"
    owners = [USER, activity.type, "microsoft.graph.assignedLicense", SKU]
    literals = _literal_gets(graph) | _literal_gets(graph_export)
    assert {"skuId", "skuPartNumber", "accountEnabled", "assignedLicenses"} <= literals
    undeclared = [
        name
        for name in sorted(literals)
        if not csdl.is_annotation(name)
        and name != "value"  # the collection of a JSON answer
        and all(graph_csdl.property(t, name) is None for t in owners)
    ]
    assert undeclared == []


def test_every_field_the_typed_pages_decode_is_declared(graph_csdl: Csdl) -> None:
    # typed_page decodes users pages by these JSON names: each must be Graph's own.
    user = typed_page.User.__struct_encode_fields__
    assert _missing(graph_csdl, USER, user) == []
    activity = graph_csdl.property(USER, user_fields.SIGNAL)
    assert activity is not None
    assert _missing(graph_csdl, activity.type, typed_page.SignIn.__struct_encode_fields__) == []
    licence = "microsoft.graph.assignedLicense"
    assert _missing(graph_csdl, licence, typed_page.Licence.__struct_encode_fields__) == []
    page = typed_page.Page.__struct_encode_fields__
    assert all(name == "value" or csdl.is_annotation(name) for name in page), page
    with_states = set(typed_page.UserWithStates.__struct_encode_fields__) - set(user)
    assert with_states == {user_fields.STATES_FIELD}
    state = "microsoft.graph.licenseAssignmentState"
    assert _missing(graph_csdl, state, typed_page.State.__struct_encode_fields__) == []


def _mail_transport(tmp_path: Path) -> GraphMailTransport:
    values = {"mailbox": MAILBOX, "tenant_id": TENANT, "client_id": CLIENT,
              "client_secret_env": SECRET_ENV}  # fmt: skip
    options = GraphMailOptions.from_tables(values, None, tmp_path)
    return GraphMailTransport(
        options, environ={SECRET_ENV: SECRET}, sleep=Waits(), random=lambda: 0.5,
        session_factory=requests.Session,
    )  # fmt: skip


def _odd_message() -> EmailMessage:
    """Every header and part kind send_mail_body converts: Cc, Bcc, Reply-To, names, Content-ID."""
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = "Überprüfung — 研究部"
    msg["To"] = '王小明 <wang@x.org>, "Müller, Zoë" <zoe@x.org>'
    msg["Cc"] = "assistant@x.org"
    msg["Bcc"] = "audit@x.org"
    msg["Reply-To"] = "ICT Licensing <ict@x.org>"
    msg["X-Licensewatch-Key"] = "k1"
    msg.set_content("plain\n")
    msg.add_alternative("<p>html</p>", subtype="html")
    msg.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="f.csv")
    msg.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename="logo.png",
                       cid="<logo@x>")  # fmt: skip
    return msg


def test_the_send_mail_bodies_fit_the_action_and_the_message_type(
    graph_csdl: Csdl, rsps: responses.RequestsMock, tmp_path: Path
) -> None:
    add_login(rsps)
    send_url = f"{GRAPH}/users/{MAILBOX}/sendMail"
    rsps.post(send_url, status=202, body="")
    notices, _ = compose()
    messages = [n.message for n in notices] + [_odd_message()]
    with _mail_transport(tmp_path) as mail:
        for n, message in enumerate(messages):
            mail.send(message, key=f"k{n}")
    bodies = [json.loads(c.request.body or b"") for c in rsps.calls if c.request.url == send_url]
    assert len(bodies) == len(messages)
    used: set[str] = set()
    for n, body in enumerate(bodies):
        assert check_action(graph_csdl, "sendMail", USER, body) == [], f"message {n}"
        used |= set(body["message"])
        for attachment in body["message"].get("attachments", []):
            used |= {f"attachment.{k}" for k in attachment}
    # Every part of the conversion was exercised (so every part was checked).
    assert used >= {"subject", "body", "toRecipients", "ccRecipients", "bccRecipients",
                    "replyTo", "attachments", "internetMessageHeaders", "attachment.contentId",
                    "attachment.isInline", "attachment.@odata.type"}  # fmt: skip


def test_the_assign_license_body_fits_the_action(
    graph_csdl: Csdl, rsps: responses.RequestsMock, tmp_path: Path
) -> None:
    add_login(rsps)
    account = "87d349ed-44d7-43e1-9a83-5f2406dee5bd"
    url = f"{GRAPH}/users/{account}/assignLicense"
    rsps.post(url, json={"id": account, "userPrincipalName": "AdeleV@contoso.com"})
    values = {"tenant_id": TENANT, "client_id": CLIENT, "client_secret_env": SECRET_ENV}
    options = GraphOptions.from_settings(graph_settings(tmp_path, **values))
    with GraphLicenseRemover(options, environ={SECRET_ENV: SECRET}, sleep=Waits()) as remover:
        remover.remove([LicenseRemoval(account, "AdeleV@contoso.com", (E3, EMS))])
    (call,) = [c for c in rsps.calls if c.request.url == url]
    body = json.loads(call.request.body or b"")
    assert body["removeLicenses"] == [E3, EMS]
    assert check_action(graph_csdl, "assignLicense", USER, body) == []


def _resource_documents() -> Iterator[tuple[Path, str]]:
    """(file, element type) of every Graph answer among the JSON fixtures."""
    for path in sorted(FIXTURES.glob("graph*/*.json")):
        if path.name.startswith("users"):
            yield path, USER
        elif path.name == "subscribedSkus.json":
            yield path, SKU
        elif path.name.startswith("sentitems") or path.name.startswith(
            "messages_"
        ):  # Sent Items searched before a resend
            yield path, MESSAGE
        elif path.name.startswith("attachments_"):
            yield path, ATTACHMENT
        elif path.name.startswith("folders_"):
            yield path, MAIL_FOLDER
        elif path.name == "subscriptions.json":  # GET /directory/subscriptions (issue 17)
            yield path, "microsoft.graph.companySubscription"
        elif path.name.startswith("group_"):
            continue  # one group, not a collection: test_graph_seats_csdl checks it
        else:
            assert path.name.startswith(NOT_RESOURCES), f"{path}: which Graph type is this?"


def _page_errors(model: Csdl, path: Path, element_type: str) -> list[str]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    errors = [f"{path.name}: {k} is neither value nor OData control information"
              for k in doc if k != "value" and not csdl.is_annotation(k)]  # fmt: skip
    errors += check(model, f"Collection({element_type})", doc["value"], path.name, False)
    context = doc.get("@odata.context", "")
    if "#users(" in context and "#users('" not in context:  # $metadata#users(id,…), not a key
        selected = context.split("#users(", 1)[1].rstrip(")").split(",")
        errors += [f"{path.name}: @odata.context selects {n}" for n in
                   _missing(model, USER, selected)]  # fmt: skip
    if "@odata.nextLink" in doc:
        errors += [f"{path.name}: nextLink selects {n}" for n in
                   _missing(model, element_type, _selected(doc["@odata.nextLink"]))]  # fmt: skip
    return errors


def test_every_graph_fixture_is_made_of_declared_properties(graph_csdl: Csdl) -> None:
    documents = list(_resource_documents())
    assert len(documents) >= 10  # tests/fixtures/graph and graph_live
    for path, element_type in documents:
        assert _page_errors(graph_csdl, path, element_type) == [], path


def test_the_demo_export_is_made_of_declared_properties(graph_csdl: Csdl, tmp_path: Path) -> None:
    org = generate(tmp_path / "demo", accounts=40, departments=3, as_of=date(2024, 12, 14))
    folder = next(p.parent for p in org.root.rglob("subscribedSkus.json"))
    pages = sorted(folder.glob("users_*.json"))
    assert pages
    for path in pages:
        assert _page_errors(graph_csdl, path, USER) == [], path
    assert _page_errors(graph_csdl, folder / "subscribedSkus.json", SKU) == []


def test_the_checker_does_refuse_what_the_csdl_forbids(graph_csdl: Csdl) -> None:
    user: dict[str, Any] = {"id": "x", "assignedLicenses": [{"skuId": E3, "disabledPlans": []}]}
    assert check(graph_csdl, USER, user, "u") == []
    assert check(graph_csdl, USER, {**user, "lastSignIn": "2024-01-01T00:00:00Z"}, "u") != []
    assert check(graph_csdl, USER, {**user, "assignedLicenses": [{"skuID": E3}]}, "u") != []
    assert check(graph_csdl, USER, {**user, "accountEnabled": "true"}, "u") != []
    assert check(graph_csdl, USER, {**user, "assignedLicenses": None}, "u") != []  # not nullable
    good = {"message": {"subject": "s", "body": {"contentType": "HTML", "content": "c"},
            "attachments": [{"@odata.type": "#microsoft.graph.fileAttachment", "name": "n",
                             "contentBytes": "YQ=="}]}, "saveToSentItems": True}  # fmt: skip
    assert check_action(graph_csdl, "sendMail", USER, good) == []
    wrong_type = json.loads(json.dumps(good).replace("fileAttachment", "itemAttachment2"))
    bad_enum = json.loads(json.dumps(good).replace('"HTML"', '"Markdown"'))
    not_base64 = json.loads(json.dumps(good).replace("YQ==", "not base64!"))
    for bad in (wrong_type, bad_enum, not_base64, {**good, "saveToSent": True}, {}):
        assert check_action(graph_csdl, "sendMail", USER, bad) != [], bad
    assert check_action(graph_csdl, "assignLicense", USER, {"removeLicenses": [E3]}) != []
    assert check_action(graph_csdl, "assignLicense", USER, {"addLicenses": [],
                        "removeLicenses": ["E3"]}) != []  # fmt: skip


def test_the_answers_mailbox_reads_declared_properties_and_moves_by_the_action(
    graph_csdl: Csdl,
) -> None:
    fields = mailbox._MESSAGE_FIELDS.split(",")
    assert _missing(graph_csdl, MESSAGE, fields) == []
    assert _missing(graph_csdl, ATTACHMENT, ["id", "name", "contentType", "size", "isInline"]) == []
    assert graph_csdl.property("microsoft.graph.fileAttachment", "contentBytes") is not None
    assert _missing(graph_csdl, MAIL_FOLDER, ["id", "displayName"]) == []
    assert check_action(graph_csdl, "move", MESSAGE, {"destinationId": "F-PROC"}) == []
