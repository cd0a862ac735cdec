"""Every Graph property the seats read, against Graph v1.0's CSDL (issue 17).

Taken from the code: the parsers' constants (``PREPAID_FIELDS``,
``SUBSCRIPTION_FIELDS``, ``STATE_FIELDS``, ``STATES_FIELD``, ``GROUP_SELECT``)
and every literal ``.get("…")`` in ``sources/graph/seats.py``, on
``subscribedSku``, ``licenseUnitsDetail``, ``companySubscription``,
``licenseAssignmentState``, ``user`` or ``group``; and the seat fixtures and the
demo's subscriptions, groups and licence states, value by value.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from licensewatch.demo import generate
from licensewatch.sources.graph import seats
from tests.conformance import csdl
from tests.conformance.csdl import Csdl, check
from tests.conformance.test_graph_csdl import _literal_gets

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "graph_seats"
SKU = "microsoft.graph.subscribedSku"
UNITS = "microsoft.graph.licenseUnitsDetail"
SUBSCRIPTION = "microsoft.graph.companySubscription"
STATE = "microsoft.graph.licenseAssignmentState"
USER = "microsoft.graph.user"
GROUP = "microsoft.graph.group"


@pytest.fixture(scope="module")
def graph_csdl(schemas: Path) -> Csdl:
    return csdl.load(schemas / "graph-v1.0" / "v1.0-Prod.csdl")


def _missing(model: Csdl, type_name: str, names: object) -> list[str]:
    return [n for n in names if model.property(type_name, n) is None]  # type: ignore[attr-defined]


def test_the_seat_properties_are_declared(graph_csdl: Csdl) -> None:
    prepaid = graph_csdl.property(SKU, "prepaidUnits")
    assert prepaid is not None and prepaid.type == UNITS
    assert _missing(graph_csdl, SKU, ["prepaidUnits", "consumedUnits", "skuId"]) == []
    assert _missing(graph_csdl, UNITS, seats.PREPAID_FIELDS) == []
    assert _missing(graph_csdl, SUBSCRIPTION, seats.SUBSCRIPTION_FIELDS) == []
    states = graph_csdl.property(USER, seats.STATES_FIELD)
    assert states is not None and states.type == f"Collection({STATE})"
    assert _missing(graph_csdl, STATE, seats.STATE_FIELDS) == []
    assert _missing(graph_csdl, GROUP, seats.GROUP_SELECT.split(",")) == []
    # The navigation the live source reads: directory/subscriptions are companySubscriptions.
    directory = graph_csdl.property("microsoft.graph.directory", "subscriptions")
    assert directory is not None and directory.type == f"Collection({SUBSCRIPTION})"


def test_every_literal_the_seat_parser_reads_is_declared(graph_csdl: Csdl) -> None:
    owners = [SKU, UNITS, SUBSCRIPTION, STATE, USER, GROUP]
    literals = _literal_gets(seats)
    assert {"prepaidUnits", "consumedUnits", "assignedByGroup", "nextLifecycleDateTime"} <= (
        literals | set(seats.SUBSCRIPTION_FIELDS)
    )
    undeclared = [
        name
        for name in sorted(literals)
        if not csdl.is_annotation(name)
        and name != "value"
        and all(graph_csdl.property(t, name) is None for t in owners)
    ]
    assert undeclared == []


def _values(path: Path) -> list[object]:
    return list(json.loads(path.read_text(encoding="utf-8"))["value"])


def test_the_fixtures_and_the_demo_fit_the_types(graph_csdl: Csdl, tmp_path: Path) -> None:
    org = generate(tmp_path / "demo", accounts=120, departments=4, seed=7, as_of=date(2019, 12, 31))
    graph = org.root / "exports" / "graph"
    problems: list[str] = []
    for folder in (FIXTURES, graph):
        for n, sub in enumerate(_values(folder / "subscriptions.json")):
            problems += check(graph_csdl, SUBSCRIPTION, sub, f"{folder.name} subscription {n}")
    for n, sku in enumerate(_values(FIXTURES / "subscribedSkus.json")):
        problems += check(graph_csdl, SKU, sku, f"sku {n}")
    groups = [
        json.loads((FIXTURES / "group_1ad75eeb.json").read_text()),
        *_values(graph / "groups.json"),
    ]
    for n, group in enumerate(groups):
        problems += check(graph_csdl, GROUP, group, f"group {n}")
    users = _values(FIXTURES / "users_states.json") + _values(graph / "users_0001.json")
    for n, user in enumerate(users):
        for k, state in enumerate(user.get(seats.STATES_FIELD, [])):  # type: ignore[attr-defined]
            problems += check(graph_csdl, STATE, state, f"user {n} state {k}")
    assert problems == []
