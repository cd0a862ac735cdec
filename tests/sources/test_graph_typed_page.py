"""Users pages decoded into typed users read as the same columns as pages parsed as JSON objects.

The live pull decodes a page with :mod:`licensewatch.sources.graph.typed_page`
where the page's fields have their documented types and parses it as JSON
objects otherwise: either way the accounts, licences and problems must be
the same, which these tests hold it to on the recorded pages and on pages
made up of every kind of field value Graph could send (and some it should not).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from licensewatch import jsontext
from licensewatch.errors import InputError
from licensewatch.sources.graph import export, typed_page, user_fields
from licensewatch.sources.graph.seats import LicenseStates

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"
SKUS = {E3: "ENTERPRISEPACK"}
CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#users(id,displayName,signInActivity)"


def states(datas: list[bytes], *, typed: bool) -> tuple[Any, ...]:
    """The licence states LicenseStates notes of the pages, and its problems."""
    noted = LicenseStates()
    docs = []
    for data in datas:
        doc = typed_page.decode_with_states(data) if typed else None
        docs.append(doc if doc is not None else jsontext.loads(data))
    assert list(noted.watch(docs)) == docs  # yielded unchanged
    return noted.frame({"g1": "Group one"}), noted.problems


def assert_same_states(datas: list[bytes]) -> None:
    (typed, typed_problems), (parsed, parsed_problems) = (
        states(datas, typed=True),
        states(datas, typed=False),
    )
    pd.testing.assert_frame_equal(typed, parsed)
    assert typed_problems == parsed_problems


def read(datas: list[bytes], *, typed: bool) -> tuple[Any, ...]:
    """The frames (or the problems) of the pages, decoded typed where they decode, or parsed."""
    docs = []
    for n, data in enumerate(datas, start=1):
        doc = typed_page.decode(data) if typed else None
        docs.append((f"page {n}", doc if doc is not None else jsontext.loads(data)))
    try:
        accounts, licenses = export._parse_pages(iter(docs), SKUS)
    except InputError as exc:
        return ("problems", [str(p) for p in exc.problems])
    return (accounts, licenses)


def assert_same(datas: list[bytes]) -> None:
    typed, parsed = read(datas, typed=True), read(datas, typed=False)
    if isinstance(parsed[0], str):
        assert typed == parsed
        return
    for a, b in zip(typed, parsed, strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_a_decoded_page_has_every_column_a_parsed_page_has() -> None:
    assert list(typed_page.COLUMNS) == list(export.USER_COLUMNS)


def recorded_pages() -> list[Path]:
    return sorted(
        p
        for folder in ("graph", "graph_live", "graph_seats")
        for p in (FIXTURES / folder).glob("users*.json")
    )


@pytest.mark.parametrize("path", recorded_pages(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recorded_pages_decode_and_read_as_parsed(path: Path) -> None:
    data = path.read_bytes()
    assert typed_page.decode(data) is not None  # the documented shape decodes
    assert typed_page.decode_with_states(data) is not None
    assert_same([data])
    assert_same_states([data])


def test_the_recorded_licence_states_are_noted_from_decoded_pages() -> None:
    data = (FIXTURES / "graph_seats" / "users_states.json").read_bytes()
    frame, problems = states([data], typed=True)
    assert len(frame) > 0 and problems == []


def users_page(users: list[Any], *, link: str | None = None) -> bytes:
    doc: dict[str, Any] = {"@odata.context": CONTEXT, "value": users}
    if link:
        doc["@odata.nextLink"] = link
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    "data",
    [
        users_page([{"id": 5}]),  # a number where text belongs
        users_page([{"id": "a", "accountEnabled": "true"}]),
        users_page([None, {"id": "a"}]),  # a user that is not an object
        users_page([{"id": "a", "signInActivity": "yesterday"}]),
        users_page([{"id": "a", "assignedLicenses": {"skuId": E3}}]),
        users_page([{"id": "a", "assignedLicenses": [E3]}]),
        users_page([{"id": "a", "assignedLicenses": [{"skuId": 1}]}]),
        b'{"value": [{"id": "a\\ud800"}]}',  # a lone surrogate: jsontext marks it
        b'{"value": {"id": "a"}}',
        b'{"users": []}',
        b"[]",
        b"not json",
        users_page([{"id": "a"}], link=None).replace(b'"value"', b'"@odata.nextLink": 5, "value"'),
    ],
)
def test_what_is_not_in_the_documented_types_is_left_to_the_json_reader(data: bytes) -> None:
    assert typed_page.decode(data) is None


def test_a_page_read_typed_after_pages_read_parsed_numbers_its_users_the_same() -> None:
    bad = users_page([{"id": "a", "upn": 1}, 7, {"userPrincipalName": "x@y"}], link="https://n")
    good = users_page([{"id": "b", "userPrincipalName": " b@y "}, {"id": "b"}])
    assert typed_page.decode(good) is not None and typed_page.decode(bad) is None
    typed, parsed = read([bad, good], typed=True), read([bad, good], typed=False)
    assert typed == parsed and typed[0] == "problems"
    assert any("user #2 has id 'b', already used by user #1 in page 2" in p for p in typed[1])


_TEXT = st.sampled_from(
    [
        "",
        " ",
        "  a@b ",
        "a\x1fb",
        "\u3000x\u00a0",
        "Le\u0301gal",
        "E3",
        E3,
        f" {E3} ",
        "\x00",
        "\u2028",
    ]
) | st.text(max_size=6)
_STAMP = st.sampled_from(
    [
        "2019-12-30T07:11:53Z",
        "0001-01-01T00:00:00Z",
        "",
        " 2019-01-02T03:04:05Z",
        "soon",
        "2019-13-01T00:00:00Z",
    ]
)
_ODD: st.SearchStrategy[Any] = (
    st.integers(-2, 2) | st.booleans() | st.just({}) | st.just([]) | st.floats(allow_nan=False)
)


def _maybe(value: st.SearchStrategy[Any], odd: bool) -> st.SearchStrategy[Any]:
    return value | st.none() | (_ODD if odd else st.nothing())


@st.composite
def users(draw: st.DrawFn, odd: bool) -> Any:
    if odd and draw(st.integers(0, 20)) == 0:
        return draw(_ODD | st.none())
    user: dict[str, Any] = {}
    for name in (*user_fields.TEXT_FIELDS, "createdDateTime"):
        if draw(st.booleans()):
            user[name] = draw(_maybe(_STAMP if name == "createdDateTime" else _TEXT, odd))
    if draw(st.booleans()):
        user["accountEnabled"] = draw(_maybe(st.booleans(), odd))
    if draw(st.booleans()):
        sign_in = {name: draw(_maybe(_STAMP, odd)) for name in user_fields.SIGN_IN_FIELDS}
        user["signInActivity"] = draw(_maybe(st.just(sign_in), odd))
    if draw(st.booleans()):
        licence = st.fixed_dictionaries({}, optional={"skuId": _maybe(_TEXT, odd)})
        user["assignedLicenses"] = draw(_maybe(st.lists(licence, max_size=3), odd))
    if draw(st.booleans()):
        state = st.fixed_dictionaries(
            {},
            optional={
                "skuId": _maybe(_TEXT, odd),
                "assignedByGroup": _maybe(st.sampled_from(["g1", "G1", "", "g2"]), odd),
                "error": _maybe(st.sampled_from(["None", "none", "CountViolation", ""]), odd),
                "state": _maybe(st.sampled_from(["Active", "Error"]), odd),
                "lastUpdatedDateTime": _STAMP,
            },
        )
        user["licenseAssignmentStates"] = draw(_maybe(st.lists(state, max_size=2), odd))
    return user


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(users(odd=False), max_size=6), min_size=1, max_size=3))
def test_pages_in_the_documented_types_read_typed_as_parsed(pages: list[list[Any]]) -> None:
    datas = [
        users_page(u, link=None if i == len(pages) - 1 else f"https://n/{i}")
        for i, u in enumerate(pages)
    ]
    assert all(typed_page.decode(d) is not None for d in datas)
    assert all(typed_page.decode_with_states(d) is not None for d in datas)
    assert_same(datas)
    assert_same_states(datas)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(users(odd=True), max_size=6), min_size=1, max_size=3))
def test_pages_with_any_values_read_the_same_whichever_reader_takes_them(
    pages: list[list[Any]],
) -> None:
    datas = [orjson.dumps({"value": u}) for u in pages]
    assert_same(datas)
    assert_same_states(datas)
