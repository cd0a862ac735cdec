"""graph-export: saved Graph users pages → ACCOUNTS and ACCOUNT_LICENSES."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from licensewatch import model
from licensewatch.config import SourceSettings
from licensewatch.errors import EXIT_RUNTIME, ConfigError, InputError, SourceError
from licensewatch.sources import ACCOUNTS_KINDS, accounts_source
from licensewatch.sources.graph.export import (
    GraphExportSource,
    parse_subscribed_skus,
    parse_users_pages,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "graph"
E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"
UNKNOWN_SKU = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"
CONTEXT = (
    "https://graph.microsoft.com/v1.0/$metadata#users(id,userPrincipalName,mail,employeeId,"
    "displayName,department,accountEnabled,userType,createdDateTime,assignedLicenses,"
    "signInActivity)"
)
NEXT = "https://graph.microsoft.com/v1.0/users?$skiptoken=X"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def settings(folder: Path, **options: Any) -> SourceSettings:
    return SourceSettings(
        feed="accounts",
        kind="graph-export",
        options={"path": str(folder), **options},
        base_dir=folder.parent,
    )


def pull(folder: Path = FIXTURES, **options: Any) -> Any:
    return GraphExportSource(settings(folder, **options)).pull()


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """A writable copy of the fixture export."""
    folder = tmp_path / "graph"
    shutil.copytree(FIXTURES, folder)
    return folder


def page(users: list[Any], *, last: bool = True) -> dict[str, Any]:
    doc: dict[str, Any] = {"@odata.context": CONTEXT, "value": users}
    if not last:
        doc["@odata.nextLink"] = NEXT
    return doc


def user(n: int, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "userPrincipalName": f"u{n}@contoso.org",
        "displayName": f"User {n}",
        "accountEnabled": True,
        "assignedLicenses": [{"disabledPlans": [], "skuId": E3}],
        "signInActivity": {"lastSignInDateTime": "2019-12-01T08:00:00Z"},
    }
    out.update(fields)
    return out


def write_pages(folder: Path, *pages: dict[str, Any], names: list[str] | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("users*.json"):
        old.unlink()
    names = names or [f"users_{i}.json" for i in range(1, len(pages) + 1)]
    for name, doc in zip(names, pages, strict=True):
        (folder / name).write_text(json.dumps(doc), encoding="utf-8")
    skus = {"value": [{"skuId": E3, "skuPartNumber": "SPE_E3"}]}
    (folder / "subscribedSkus.json").write_text(json.dumps(skus), encoding="utf-8")


def problems(exc: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


# --- the fixture export --------------------------------------------------------------


def test_pull_reads_every_user_in_page_order() -> None:
    result = pull()
    assert list(result.accounts["upn"]) == [
        "AdeleV@contoso.com",
        "Adams@contoso.com",
        "AlexW@contoso.com",
        "StineR@contoso.com",
        "meganb_fabrikam.com#EXT#@contoso.onmicrosoft.com",
        "DebraB@contoso.com",
    ]
    assert result.signal == "signInActivity"
    assert result.requests == 0


def test_pull_frames_conform_exactly_to_the_model_schemas() -> None:
    result = pull()
    for frame, schema in (
        (result.accounts, model.ACCOUNTS),
        (result.licenses, model.ACCOUNT_LICENSES),
    ):
        assert list(frame.columns) == list(schema)
        assert {c: str(t) for c, t in frame.dtypes.items()} == schema
        assert isinstance(frame.index, pd.RangeIndex)


def test_fields_are_mapped() -> None:
    adele = pull().accounts.iloc[0]
    assert adele["account_id"] == "1aecaf40-dc3a-461f-88a8-d06994e12898"
    assert adele["mail"] == "AdeleV@contoso.com"
    assert adele["employee_id"] == "1001"
    assert adele["display_name"] == "Adele Vance"
    assert adele["department"] == "Retail"
    assert bool(adele["account_enabled"]) is True
    assert adele["user_type"] == "Member"
    assert adele["created_at"] == ts("2019-03-14T09:12:00Z")
    assert adele["last_interactive_at"] == ts("2024-12-10T17:38:26Z")
    assert adele["last_noninteractive_at"] == ts("2024-12-10T17:38:11Z")
    assert adele["last_successful_at"] == ts("2024-12-10T17:38:26Z")


def test_user_without_sign_in_activity_never_signed_in() -> None:
    adams = pull().accounts.set_index("upn").loc["Adams@contoso.com"]
    for col in ("last_interactive_at", "last_noninteractive_at", "last_successful_at"):
        assert pd.isna(adams[col])
    assert not adams["account_enabled"]


def test_nulls_and_absent_properties_are_na() -> None:
    adams = pull().accounts.set_index("upn").loc["Adams@contoso.com"]
    assert pd.isna(adams["department"])
    assert pd.isna(adams["mail"])
    assert pd.isna(adams["employee_id"])
    assert pd.isna(adams["created_at"])  # createdDateTime absent


def test_year_one_and_empty_timestamps_mean_never() -> None:
    accounts = pull().accounts.set_index("upn")
    stine = accounts.loc["StineR@contoso.com"]
    assert stine["last_interactive_at"] == ts("2021-06-17T16:41:33Z")
    assert pd.isna(stine["last_noninteractive_at"])  # "0001-01-01T00:00:00Z"
    assert pd.isna(stine["last_successful_at"])  # ""
    assert pd.isna(accounts.loc["AlexW@contoso.com", "last_successful_at"])


def test_last_successful_sign_in_absent_before_december_2023() -> None:
    megan = pull().accounts.set_index("upn").loc["meganb_fabrikam.com#EXT#@contoso.onmicrosoft.com"]
    assert megan["user_type"] == "Guest"
    assert megan["last_interactive_at"] == ts("2023-05-02T07:15:00Z")
    assert pd.isna(megan["last_successful_at"])


def test_text_is_stripped_and_seven_digit_fractions_parse() -> None:
    accounts = pull().accounts.set_index("upn")
    assert accounts.loc["AlexW@contoso.com", "department"] == "Marketing"
    assert accounts.loc["DebraB@contoso.com", "created_at"] == ts("2016-11-20T14:05:31Z")


def test_licenses_one_row_per_assigned_sku_and_unknown_sku_unpriced() -> None:
    result = pull()
    licenses = result.licenses
    assert len(licenses) == 5
    debra = licenses[licenses["account_id"] == "81a133c2-bdf2-4e67-8755-7264366b04ee"]
    assert dict(zip(debra["sku_id"], debra["sku_part_number"], strict=True)) == {
        "c7df2760-2c81-4ef7-b578-5b5392b571df": "ENTERPRISEPREMIUM",
        UNKNOWN_SKU: pd.NA,
    }
    assert set(licenses.loc[licenses["sku_id"] == E3, "sku_part_number"]) == {"SPE_E3"}
    assert result.notes == (
        f"1 licence assignment of 1 SKU not in subscribedSkus ({UNKNOWN_SKU}): "
        "reported as unpriced",
    )


def test_no_note_when_every_sku_is_known(tmp_path: Path) -> None:
    write_pages(tmp_path / "g", page([user(1)]))
    assert pull(tmp_path / "g").notes == ()


def test_check_passes_on_the_fixture() -> None:
    GraphExportSource(settings(FIXTURES)).check()


# --- file order and options -----------------------------------------------------------


def test_pages_are_read_in_natural_order(tmp_path: Path) -> None:
    folder = tmp_path / "g"
    write_pages(
        folder,
        page([user(1)], last=False),
        page([user(2)], last=False),
        page([user(10)]),
        names=["users_8.json", "users_9.json", "users_10.json"],
    )
    # Lexical order would read users_10 before users_8 and end on a page with a nextLink.
    assert list(pull(folder).accounts["upn"]) == [
        "u1@contoso.org",
        "u2@contoso.org",
        "u10@contoso.org",
    ]


def test_users_glob_selects_the_pages(tmp_path: Path) -> None:
    folder = tmp_path / "g"
    write_pages(folder, page([user(1)]), names=["page-0001.json"])
    assert list(pull(folder, users_glob="page-*.json").accounts["upn"]) == ["u1@contoso.org"]


def test_registry_builds_graph_export() -> None:
    assert isinstance(accounts_source(settings(FIXTURES)), GraphExportSource)
    assert "graph-export" in ACCOUNTS_KINDS


def test_unknown_kind_lists_valid_kinds() -> None:
    bad = SourceSettings("accounts", "graph-exprot", {"path": "x"}, Path("."))
    with pytest.raises(ConfigError) as exc:
        accounts_source(bad)
    assert exc.value.message == (
        "[sources.accounts] kind 'graph-exprot' is not known; valid kinds are: graph, graph-export"
    )


def test_unknown_option_lists_valid_keys() -> None:
    with pytest.raises(ConfigError) as exc:
        GraphExportSource(settings(FIXTURES, user_glob="x"))
    assert exc.value.message == (
        "unknown key 'user_glob' in [sources.accounts] (kind 'graph-export'); "
        "valid keys are: kind, path, users_glob"
    )


def test_path_is_required() -> None:
    with pytest.raises(ConfigError) as exc:
        GraphExportSource(SourceSettings("accounts", "graph-export", {}, Path(".")))
    assert "[sources.accounts]" in exc.value.message and "'path'" in exc.value.message


# --- file-level errors ----------------------------------------------------------------


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        pull(tmp_path / "nope")
    assert problems(exc) == [
        f'[sources.accounts] path = "{tmp_path / "nope"}": no such folder; expected the users '
        "pages (users*.json) and subscribedSkus.json of a Graph export"
    ]


def test_no_users_files(tmp_path: Path) -> None:
    (tmp_path / "g").mkdir()
    with pytest.raises(InputError) as exc:
        GraphExportSource(settings(tmp_path / "g")).check()
    assert problems(exc) == [
        f"{tmp_path / 'g'}: no files match 'users*.json'; expected the users pages "
        "(users*.json) and subscribedSkus.json of a Graph export"
    ]


def test_missing_subscribed_skus(export: Path) -> None:
    (export / "subscribedSkus.json").unlink()
    with pytest.raises(InputError) as exc:
        pull(export)
    assert problems(exc) == [
        f"{export / 'subscribedSkus.json'}: file does not exist; expected the answer of "
        "GET /v1.0/subscribedSkus"
    ]


def test_invalid_json_names_file_and_line(export: Path) -> None:
    text = (export / "users_2.json").read_text(encoding="utf-8")
    (export / "users_2.json").write_text(text.replace('"Legal",', '"Legal"', 1), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        pull(export)
    line = text.splitlines().index('      "department": "Legal",') + 2
    assert problems(exc) == [
        f"{export / 'users_2.json'}: not valid JSON at line {line}, column 7: "
        "Expecting ',' delimiter"
    ]


def test_page_without_value_array(tmp_path: Path) -> None:
    write_pages(tmp_path / "g", {"error": {"code": "Request_Throttled"}})
    with pytest.raises(InputError) as exc:
        pull(tmp_path / "g")
    assert problems(exc) == [
        f"{tmp_path / 'g' / 'users_1.json'}: expected a users page as Graph returns it: "
        "an object with a 'value' array"
    ]


def test_last_page_with_next_link_is_an_incomplete_export(tmp_path: Path) -> None:
    write_pages(tmp_path / "g", page([user(1)], last=False), page([user(2)], last=False))
    # An incomplete pull, not bad content: a SourceError (exit 1), like every broken chain.
    with pytest.raises(SourceError) as exc:
        pull(tmp_path / "g")
    assert "users_2.json, the last page, has an @odata.nextLink" in exc.value.message
    assert exc.value.exit_code == EXIT_RUNTIME


def test_export_without_sign_in_activity_is_refused(tmp_path: Path) -> None:
    doc = page([user(1)])
    doc["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#users(id,userPrincipalName)"
    write_pages(tmp_path / "g", doc)
    with pytest.raises(InputError) as exc:
        pull(tmp_path / "g")
    assert problems(exc) == [
        f"{tmp_path / 'g' / 'users_1.json'}: exported without signInActivity in $select: "
        "every user would look as if they never signed in"
    ]


def test_bad_subscribed_skus(export: Path) -> None:
    (export / "subscribedSkus.json").write_text(
        json.dumps({"value": [{"skuId": E3}, {"skuPartNumber": "X", "skuId": ""}]}),
        encoding="utf-8",
    )
    with pytest.raises(InputError) as exc:
        pull(export)
    path = export / "subscribedSkus.json"
    assert problems(exc) == [
        f"{path}, row 1, column 'skuPartNumber': SKU #1 has no skuPartNumber",
        f"{path}, row 2, column 'skuId': SKU #2 has no skuId",
    ]


# --- user-level errors: file, row (position in the page) and Graph field ----------------


def test_user_without_id_or_upn(tmp_path: Path) -> None:
    no_id = user(2)
    del no_id["id"]
    write_pages(tmp_path / "g", page([user(1), no_id, user(3, userPrincipalName=None)]))
    with pytest.raises(InputError) as exc:
        pull(tmp_path / "g")
    f = tmp_path / "g" / "users_1.json"
    assert problems(exc) == [
        f"{f}, row 2, column 'id': user #2 has no id",
        f"{f}, row 3, column 'userPrincipalName': user #3 has no userPrincipalName",
    ]


def test_unparseable_timestamp(tmp_path: Path) -> None:
    bad = user(12, signInActivity={"lastSignInDateTime": "12/10/2024 17:38"})
    write_pages(
        tmp_path / "g",
        page([user(1)], last=False),
        page([*(user(n) for n in range(2, 12)), bad]),
    )
    with pytest.raises(InputError) as exc:
        pull(tmp_path / "g")
    assert problems(exc) == [
        f"{tmp_path / 'g' / 'users_2.json'}, row 11, column 'lastSignInDateTime': user #11 has "
        "lastSignInDateTime '12/10/2024 17:38'; expected an ISO 8601 date-time"
    ]


def test_words_are_not_timestamps(tmp_path: Path) -> None:
    write_pages(tmp_path / "g", page([user(1, createdDateTime="now")]))
    with pytest.raises(InputError) as exc:
        pull(tmp_path / "g")
    assert problems(exc) == [
        f"{tmp_path / 'g' / 'users_1.json'}, row 1, column 'createdDateTime': user #1 has "
        "createdDateTime 'now'; expected an ISO 8601 date-time"
    ]


def test_duplicate_id_across_pages_names_both_files(tmp_path: Path) -> None:
    write_pages(
        tmp_path / "g",
        page([user(1), user(2)], last=False),
        page([user(3), user(2, userPrincipalName="again@contoso.org")]),
    )
    with pytest.raises(InputError) as exc:
        pull(tmp_path / "g")
    first, second = tmp_path / "g" / "users_1.json", tmp_path / "g" / "users_2.json"
    assert problems(exc) == [
        f"{second}, row 2, column 'id': user #2 has id '00000000-0000-4000-8000-000000000002', "
        f"already used by user #2 in {first}"
    ]


def test_bad_shapes_of_user_properties(tmp_path: Path) -> None:
    write_pages(
        tmp_path / "g",
        page(
            [
                "not a user",
                user(2, accountEnabled="yes"),
                user(3, signInActivity=["x"]),
                user(4, assignedLicenses=[{"disabledPlans": []}]),
            ]
        ),
    )
    with pytest.raises(InputError) as exc:
        pull(tmp_path / "g")
    f = tmp_path / "g" / "users_1.json"
    assert problems(exc) == [
        f"{f}, row 1: user #1 is not a JSON object",
        f"{f}, row 2, column 'accountEnabled': user #2 has accountEnabled 'yes'; "
        "expected true or false",
        f"{f}, row 3, column 'signInActivity': user #3 has signInActivity ['x']; "
        "expected an object",
        f"{f}, row 4, column 'assignedLicenses': user #4 has assignedLicenses that are not "
        "a list of objects with a skuId",
    ]


# --- the pure functions the live Graph source reuses -------------------------------------


def test_parse_subscribed_skus_on_the_documented_answer() -> None:
    # The first two SKUs of the fixture are the documentation's example verbatim.
    doc = json.loads((FIXTURES / "subscribedSkus.json").read_text(encoding="utf-8"))
    skus = parse_subscribed_skus(doc)
    assert skus["c7df2760-2c81-4ef7-b578-5b5392b571df"] == "ENTERPRISEPREMIUM"
    assert skus["d17b27af-3f49-4822-99f9-56a661538792"] == "CRMSTANDARD"
    assert skus[E3] == "SPE_E3"
    assert len(skus) == 3


def test_parse_users_pages_names_pages_by_origin() -> None:
    pages = [page([user(1)], last=False), page([user(2, createdDateTime="yesterday")])]
    with pytest.raises(InputError) as exc:
        parse_users_pages(pages, {E3: "SPE_E3"}, origin="graph")
    assert problems(exc) == [
        "graph page 2, row 1, column 'createdDateTime': user #1 has createdDateTime "
        "'yesterday'; expected an ISO 8601 date-time"
    ]


def test_parse_users_pages_accepts_empty_and_short_pages() -> None:
    accounts, licenses = parse_users_pages(
        [
            page([], last=False),
            page([user(1), user(2)], last=False),
            page([user(3)]),
        ],
        {E3: "SPE_E3"},
    )
    assert list(accounts["upn"]) == ["u1@contoso.org", "u2@contoso.org", "u3@contoso.org"]
    assert list(licenses["sku_part_number"]) == ["SPE_E3"] * 3


def test_parse_users_pages_with_no_users_returns_empty_conformed_frames() -> None:
    accounts, licenses = parse_users_pages([page([])], {})
    assert accounts.empty and licenses.empty
    assert {c: str(t) for c, t in accounts.dtypes.items()} == model.ACCOUNTS
    assert {c: str(t) for c, t in licenses.dtypes.items()} == model.ACCOUNT_LICENSES


def test_sixty_thousand_users_parse_whole() -> None:
    activity = {
        "lastSignInDateTime": "2019-12-10T17:38:26Z",
        "lastNonInteractiveSignInDateTime": "0001-01-01T00:00:00Z",
        "lastSuccessfulSignInDateTime": "",
    }
    pages = [
        page(
            [
                {
                    "id": f"00000000-0000-4000-8000-{n:012d}",
                    "userPrincipalName": f"u{n}@contoso.org",
                    "mail": f"u{n}@contoso.org",
                    "employeeId": f"E{n}",
                    "displayName": f"User {n}",
                    "department": f"Dept {n % 40}",
                    "accountEnabled": True,
                    "userType": "Member",
                    "createdDateTime": "2018-01-01T09:00:00Z",
                    "assignedLicenses": [{"disabledPlans": [], "skuId": E3}],
                    "signInActivity": activity,
                }
                for n in range(p * 500, (p + 1) * 500)
            ],
            last=p == 119,
        )
        for p in range(120)
    ]
    # Speed is measured by benchmarks/, never asserted here.
    accounts, licenses = parse_users_pages(pages, {E3: "SPE_E3"})
    assert len(accounts) == 60_000 and len(licenses) == 60_000
