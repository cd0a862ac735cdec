"""Graph users pages parsed as they arrive: columns per page, no page or user kept, paging, gaps."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from licensewatch.errors import InputError
from licensewatch.sources.graph.export import USER_COLUMNS, parse_users_pages

E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"
CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#users(id,userPrincipalName,signInActivity)"
SKUS = {E3: "SPE_E3"}


class Obj(dict[str, Any]):
    """A JSON object that can be watched with a weak reference (a plain dict cannot)."""


def user(n: int, **fields: Any) -> Obj:
    base: dict[str, Any] = {
        "id": f"id-{n}",
        "userPrincipalName": f"u{n}@x.org",
        "accountEnabled": True,
        "createdDateTime": "2018-01-01T00:00:00Z",
        "assignedLicenses": [{"skuId": E3, "disabledPlans": []}],
        "signInActivity": {"lastSignInDateTime": "2019-10-01T08:00:00Z"},
    }
    return Obj({**base, **fields})


def pages_of(*pages: list[Obj], watch: list[weakref.ref[Obj]] | None = None) -> Iterator[Obj]:
    """The pages in order, chained by nextLink; with ``watch``, every object yielded is watched."""
    for i, users in enumerate(pages):
        doc = Obj({"@odata.context": CONTEXT, "value": users})
        if i + 1 < len(pages):
            doc["@odata.nextLink"] = f"https://graph/v1.0/users?$skiptoken={i + 1}"
        if watch is not None:
            watch.extend(weakref.ref(o) for o in (doc, *users))
        yield doc


def test_users_of_every_page_in_order() -> None:
    pages = [[user(1), user(2)], [user(3)], [], [user(4)]]
    accounts, licenses = parse_users_pages(pages_of(*pages), SKUS)
    assert list(accounts["account_id"]) == ["id-1", "id-2", "id-3", "id-4"]
    assert list(licenses["account_id"]) == ["id-1", "id-2", "id-3", "id-4"]
    assert set(licenses["sku_part_number"]) == {"SPE_E3"}


def test_no_page_or_user_is_kept_once_read() -> None:
    """When a page is asked for, only the page before it may still be alive, not its elders."""
    watch: list[weakref.ref[Obj]] = []
    alive: list[int] = []

    def fetched() -> Iterator[Obj]:
        for number in range(5):
            gc.collect()
            alive.append(sum(ref() is not None for ref in watch))
            users = [user(10 * number + k) for k in range(3)]
            doc = Obj({"@odata.context": CONTEXT, "value": users})
            if number < 4:
                doc["@odata.nextLink"] = f"https://graph/v1.0/users?$skiptoken={number + 1}"
            watch.extend(weakref.ref(o) for o in (doc, *users))
            del users
            yield doc
            del doc

    accounts, _ = parse_users_pages(fetched(), SKUS)
    assert len(accounts) == 15
    # Keeping every user until the end (as before issue 18) would leave 3, 6, 9, 12 alive.
    assert alive[0] == 0 and max(alive) <= 4, alive


def test_missing_fields_are_missing_values() -> None:
    bare = Obj({"id": "id-9", "userPrincipalName": " u9@x.org "})
    accounts, licenses = parse_users_pages(pages_of([user(1)], [bare]), SKUS)
    row = accounts.set_index("account_id").loc["id-9"]
    assert row["upn"] == "u9@x.org"
    assert pd.isna(row["mail"]) and pd.isna(row["department"]) and pd.isna(row["account_enabled"])
    assert pd.isna(row["created_at"]) and pd.isna(row["last_interactive_at"])
    assert list(licenses["account_id"]) == ["id-1"]


def test_never_and_empty_sign_in_are_not_a_date() -> None:
    users = [
        user(1, signInActivity={"lastSignInDateTime": "0001-01-01T00:00:00Z"}),
        user(2, signInActivity={"lastSignInDateTime": ""}),
        user(3, signInActivity=None),
    ]
    accounts, _ = parse_users_pages(pages_of(users), SKUS)
    assert accounts["last_interactive_at"].isna().all()


def test_problems_name_the_page_and_the_user_on_it() -> None:
    bad = [
        user(3, accountEnabled="yes"),
        user(4, signInActivity="2019-01-01"),
        user(5, assignedLicenses=[{"disabledPlans": []}]),
        user(6, createdDateTime="yesterday"),
    ]
    with pytest.raises(InputError) as caught:
        parse_users_pages(pages_of([user(1), user(2)], [*bad, "not an object"]), SKUS)  # type: ignore[list-item]
    text = str(caught.value.problems)
    for pos, field in [
        (1, "accountEnabled"),
        (2, "signInActivity"),
        (3, "assignedLicenses"),
        (4, "createdDateTime"),
        (5, "not a JSON object"),
    ]:
        assert "page 2" in text and f"user #{pos}" in text and field in text


def test_a_new_property_is_one_column_entry() -> None:
    """Every kept property has its column; the parse reads nothing else of a user."""
    assert {"id", "userPrincipalName", "accountEnabled", "assignedLicenses"} <= set(USER_COLUMNS)
    assert all(callable(read) for read in USER_COLUMNS.values())
