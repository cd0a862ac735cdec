"""The demo organization: real source shapes, the documented quirks, its proportions,
determinism, and the rules about the folder it writes into."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from licensewatch import resources
from licensewatch.config import load_settings
from licensewatch.demo import DemoOrganization, generate
from licensewatch.errors import ConfigError, LicensewatchError
from licensewatch.night.inputs import build_sources, read_reference
from licensewatch.sources.graph.export import parse_subscribed_skus

AS_OF = date(2019, 12, 31)
AS_OF_TS = pd.Timestamp("2019-12-31", tz="UTC")
ACCOUNTS, DEPARTMENTS = 1200, 8
E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"
PBI = "f8a1db68-be16-40ed-86d5-cb42ce701560"
VISIO = "c5928f49-12ba-48f7-ada3-0d743a3601d5"
SELECT = (
    "id,userPrincipalName,mail,employeeId,displayName,department,accountEnabled,userType,"
    "createdDateTime,assignedLicenses,licenseAssignmentStates,signInActivity"
)
SIGN_IN_KEYS = {
    "lastSignInDateTime",
    "lastSignInRequestId",
    "lastNonInteractiveSignInDateTime",
    "lastNonInteractiveSignInRequestId",
    "lastSuccessfulSignInDateTime",
    "lastSuccessfulSignInRequestId",
}
NEVER = "0001-01-01T00:00:00Z"
RATE_CARD = """item,description,resource_kind,matches,annual_rate_usd,effective_from,effective_to
M365_E3,Microsoft 365 E3 licence,license,SPE_E3,189.60,2016-01-01,
IP_PHONE_PC_PORT,IP desk phone with PC port,phone,*,230.00,2016-01-01,
"""


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The shipped rate card the generator copies (a stand-in if this checkout has none yet)."""
    real = resources.default_config_dir() / "rate_card.csv"
    if real.is_file():
        yield real
        return
    folder = tmp_path_factory.mktemp("shipped")
    (folder / "rate_card.csv").write_text(RATE_CARD, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resources, "default_config_dir", lambda: folder)
        yield folder / "rate_card.csv"


def _make(root: Path, **kwargs: Any) -> DemoOrganization:
    options: dict[str, Any] = {"accounts": ACCOUNTS, "departments": DEPARTMENTS, "as_of": AS_OF}
    return generate(root, **(options | kwargs))


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory, shipped: Path) -> DemoOrganization:
    return _make(tmp_path_factory.mktemp("org") / "demo")


def _pages(org: DemoOrganization) -> list[dict[str, Any]]:
    files = sorted((org.root / "exports" / "graph").glob("users_*.json"))
    return [json.loads(p.read_bytes()) for p in files]


@pytest.fixture(scope="module")
def users(org: DemoOrganization) -> list[dict[str, Any]]:
    return [user for page in _pages(org) for user in page["value"]]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_users_pages_are_shaped_as_graph_returns_them(org: DemoOrganization) -> None:
    pages = _pages(org)
    assert len(pages) >= 3
    context = f"https://graph.microsoft.com/v1.0/$metadata#users({SELECT})"
    link = f"https://graph.microsoft.com/v1.0/users?$select={SELECT}&$top=500&$skiptoken="
    for page in pages[:-1]:
        assert list(page) == ["@odata.context", "@odata.nextLink", "value"]
        assert page["@odata.context"] == context
        assert page["@odata.nextLink"].startswith(link)
        assert len(page["@odata.nextLink"]) > len(link) + 20
    assert [len(p["value"]) for p in pages[:-3]] == [500] * (len(pages) - 3)
    assert 0 < len(pages[-2]["value"]) <= 500
    assert pages[-1] == {"@odata.context": context, "value": []}  # one empty trailing page
    tokens = [p["@odata.nextLink"] for p in pages[:-1]]
    assert len(set(tokens)) == len(tokens)


def test_every_user_has_the_selected_properties_only(users: list[dict[str, Any]]) -> None:
    selected = set(SELECT.split(","))
    for user in users:
        assert set(user) in (selected, selected - {"signInActivity"}), user
        for assigned in user["assignedLicenses"]:
            assert assigned == {"disabledPlans": [], "skuId": assigned["skuId"]}
        if "signInActivity" in user:
            assert set(user["signInActivity"]) == SIGN_IN_KEYS
    ids = [u["id"] for u in users]
    upns = [u["userPrincipalName"].casefold() for u in users]
    assert len(set(ids)) == len(ids) and len(set(upns)) == len(upns)
    assert ids == sorted(ids)  # Graph's order, not the generator's


def test_subscribed_skus_parse_and_count_the_assignments(
    org: DemoOrganization, users: list[dict[str, Any]]
) -> None:
    doc = json.loads((org.root / "exports" / "graph" / "subscribedSkus.json").read_bytes())
    assert parse_subscribed_skus(doc) == {E3: "SPE_E3", PBI: "POWER_BI_PRO", VISIO: "VISIOCLIENT"}
    for sku in doc["value"]:
        held = sum(a["skuId"] == sku["skuId"] for u in users for a in u["assignedLicenses"])
        assert sku["consumedUnits"] == held > 0
        assert sku["prepaidUnits"]["enabled"] >= held


def test_the_graph_quirks_are_present(users: list[dict[str, Any]]) -> None:
    signins = [u["signInActivity"] for u in users if "signInActivity" in u]
    assert len(signins) < len(users)  # some never signed in: no signInActivity key
    assert any(s["lastSignInDateTime"] == NEVER for s in signins)
    assert any(s["lastSignInDateTime"] == "" for s in signins)
    assert any(
        s["lastNonInteractiveSignInDateTime"] == NEVER != s["lastSignInDateTime"] for s in signins
    )
    assert any(s["lastSuccessfulSignInDateTime"] == "" != s["lastSignInDateTime"] for s in signins)
    # Recent failed attempts on an account whose last success is long gone.
    assert any(
        s["lastSuccessfulSignInDateTime"][:4] not in ("", "0001")
        and s["lastSignInDateTime"] > s["lastSuccessfulSignInDateTime"]
        and (AS_OF_TS - pd.Timestamp(s["lastSuccessfulSignInDateTime"])).days > 90
        for s in signins
    )
    members = [u for u in users if u["userType"] == "Member" and u["assignedLicenses"]]
    assert any(u["department"] is None for u in members)
    assert any(u["employeeId"] is None for u in members)
    assert any(not u["accountEnabled"] for u in members)
    skus = [[a["skuId"] for a in u["assignedLicenses"]] for u in users]
    assert [E3, PBI] in skus and [VISIO] in skus
    guests = [u for u in users if u["userType"] == "Guest"]
    assert guests and all("#EXT#@" in u["userPrincipalName"] for u in guests)
    licensed_guests = sum(bool(u["assignedLicenses"]) for u in guests)
    assert 0 < licensed_guests < len(guests) / 5


def test_timestamps_are_utc_and_in_the_past(users: list[dict[str, Any]]) -> None:
    pattern = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
    limit = AS_OF.isoformat()
    for user in users:
        stamps = [user["createdDateTime"]]
        stamps += [v for k, v in user.get("signInActivity", {}).items() if k.endswith("Time")]
        for stamp in stamps:
            assert stamp in ("", NEVER) or (pattern.fullmatch(stamp) and stamp < limit), stamp
        assert all(user["createdDateTime"] < s for s in stamps[1:] if s not in ("", NEVER))


def test_the_config_is_complete_and_loads(org: DemoOrganization, shipped: Path) -> None:
    settings = load_settings(org.config_path)
    assert settings.database_url == "sqlite:///" + str((org.root / "licensewatch.db").resolve())
    assert (settings.policy.inactive_days, settings.policy.phone_inactive_days) == (90, 90)
    assert settings.policy.separation_grace_days == 0
    assert settings.policy.activity_signal == "successful"
    assert {f: s.kind for f, s in settings.sources.items()} == {
        "accounts": "graph-export",
        "phones": "csv",
        "separations": "csv",
    }
    assert settings.sources["phones"].options["owner_match"] == "upn_local_part"
    assert settings.rate_card.read_bytes() == shipped.read_bytes()
    assert settings.focal_points.is_file() and settings.exemptions is not None
    assert settings.mail.transport == "directory" and settings.mail.sender.endswith("example.org")
    assert settings.mail.organization == "Demo Organization"
    assert settings.reports_dir == settings.base_dir / "reports"
    phones = _rows(org.root / "exports" / "phones.csv")
    departments = {r["department"] for r in _rows(org.root / "exports" / "separations.csv")}
    assert settings.device_pool_departments
    for pool, department in settings.device_pool_departments.items():
        assert department in departments
        assert any(p["device_pool"] == pool and not p["owner_user_id"] for p in phones)


def test_the_project_adapters_read_every_file(org: DemoOrganization) -> None:
    settings = load_settings(org.config_path)
    sources = build_sources(settings)
    accounts = sources.accounts.pull()
    assert len(accounts.accounts) == org.accounts and accounts.notes == ()
    assert len(sources.phones.pull().phones) == org.phones
    assert len(sources.separations.pull().separations) == org.separations
    reference = read_reference(settings)
    assert len(reference.rate_card) == 2
    assert len(reference.focal_points) < DEPARTMENTS
    assert len(reference.exemptions) >= 4


def test_about_nine_percent_of_licensed_accounts_are_dormant(org: DemoOrganization) -> None:
    sources = build_sources(load_settings(org.config_path))
    pulled = sources.accounts.pull()
    separations = sources.separations.pull().separations
    accounts = pulled.accounts[pulled.accounts["account_id"].isin(pulled.licenses["account_id"])]
    assert len(accounts) == ACCOUNTS
    attempts = accounts[["last_interactive_at", "last_noninteractive_at"]].max(axis=1)
    last = accounts["last_successful_at"].fillna(attempts)
    old = AS_OF_TS - pd.Timedelta(days=90)
    inactive = last.notna() & (last < old)
    never = last.isna() & (accounts["created_at"] < old)
    disabled = ~accounts["account_enabled"].astype(bool)
    left = separations[separations["separation_date"] <= AS_OF_TS]
    by_id = accounts["employee_id"].isin(left["employee_id"])
    separated = by_id | accounts["mail"].str.casefold().isin(left["email"].str.casefold())
    for reason in (inactive, never, disabled, separated):
        assert reason.sum() > 0
    dormant = (inactive | never | disabled | separated).mean()
    assert 0.07 < dormant < 0.11, dormant
    # Most of the rest signed in within the last 30 days.
    assert (last >= AS_OF_TS - pd.Timedelta(days=30)).mean() > 0.75


def test_separations_follow_the_audit(org: DemoOrganization, users: list[dict[str, Any]]) -> None:
    raw = (org.root / "exports" / "separations.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # spreadsheet export with a byte-order mark
    rows = _rows(org.root / "exports" / "separations.csv")
    members = [u for u in users if u["userType"] == "Member" and u["assignedLicenses"]]
    assert 0.04 < len(rows) / len(members) < 0.065
    by_id = {u["employeeId"]: u for u in users if u["employeeId"]}
    by_mail = {u["mail"].casefold(): u for u in users if u["mail"]}
    effective = [r for r in rows if r["separation_date"] <= AS_OF.isoformat()]
    assert len(effective) < len(rows)  # some are future-dated
    unmatched = [
        r for r in rows if r["employee_id"] not in by_id and r["email"].casefold() not in by_mail
    ]
    email_only = [
        r for r in rows if r["employee_id"] not in by_id and r["email"].casefold() in by_mail
    ]
    assert unmatched and email_only
    matched = [by_id.get(r["employee_id"]) or by_mail.get(r["email"].casefold()) for r in effective]
    still_on = [u for u in matched if u and u["accountEnabled"] and u["assignedLicenses"]]
    assert len(still_on) > len(effective) / 2


def test_phones_look_like_a_call_manager_inventory(
    org: DemoOrganization, users: list[dict[str, Any]]
) -> None:
    with (org.root / "exports" / "phones.csv").open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    assert header == [
        "device_name", "description", "model", "device_pool", "owner_user_id",
        "directory_number", "registration_status", "status_changed_at", "last_seen_at",
    ]  # fmt: skip
    phones = _rows(org.root / "exports" / "phones.csv")
    names = [p["device_name"] for p in phones]
    assert len(set(names)) == len(names) == org.phones
    assert all(re.fullmatch(r"SEP[0-9A-F]{12}", n) for n in names)
    assert len({p["directory_number"] for p in phones}) == len(phones)
    assert {p["registration_status"] for p in phones} == {"Registered", "UnRegistered"}
    assert {"Cisco 8845", "Cisco 7841"} <= {p["model"] for p in phones}
    assert all(p["device_pool"].startswith("DP_") for p in phones)
    locals_ = {u["userPrincipalName"].split("@")[0] for u in users}
    owners = [p["owner_user_id"] for p in phones if p["owner_user_id"]]
    assert len(owners) < len(phones)  # conference rooms and lobbies have no owner
    unknown = [o for o in owners if o not in locals_]
    assert 0 < len(unknown) < len(owners) / 50
    members = [u for u in users if u["userType"] == "Member" and u["assignedLicenses"]]
    assert 0.85 < len(owners) / len(members) < 1


def test_focal_points_leave_a_department_unassigned(
    org: DemoOrganization, users: list[dict[str, Any]]
) -> None:
    rows = _rows(org.root / "config" / "focal_points.csv")
    departments = {u["department"] for u in users if u["department"]}
    assert len(departments) == DEPARTMENTS
    covered = {r["department"] for r in rows}
    assert covered < departments and len(covered) == len(rows)
    assert {"Zoë Müller", "José Ñúñez", "王小明", "Amélie Côté"} <= {r["name"] for r in rows}
    assert {r["language"] for r in rows} == {"en", "fr"}
    addresses = [a for r in rows for a in [r["email"], *r["cc"].split(";")] if a]
    assert all(a.endswith("example.org") for a in addresses)


def test_exemptions_are_dated_and_one_has_expired(org: DemoOrganization) -> None:
    rows = _rows(org.root / "config" / "exemptions.csv")
    assert len(rows) >= 4
    expired = [r for r in rows if r["expires_on"] < AS_OF.isoformat()]
    assert len(expired) == 1
    phones = {p["device_name"] for p in _rows(org.root / "exports" / "phones.csv")}
    upns = {u["userPrincipalName"] for page in _pages(org) for u in page["value"]}
    assert all(r["subject"] in upns | phones for r in rows)
    assert any(r["subject"] in phones for r in rows) and any(r["subject"] in upns for r in rows)


def test_same_seed_and_day_give_the_same_bytes(tmp_path: Path, shipped: Path) -> None:
    first, second = _make(tmp_path / "a"), _make(tmp_path / "b")
    assert first.accounts == second.accounts
    assert _files(first.root) == _files(second.root)
    other = _make(tmp_path / "c", seed=7)
    assert (
        _files(other.root)["exports/graph/users_0001.json"]
        != (_files(first.root)["exports/graph/users_0001.json"])
    )


def test_the_shape_is_the_same_whatever_the_day(tmp_path: Path, shipped: Path) -> None:
    def ages(org: DemoOrganization, as_of: date) -> list[tuple[str, float | None]]:
        out: list[tuple[str, float | None]] = []
        for page in _pages(org):
            for user in page["value"]:
                seen = user.get("signInActivity", {}).get("lastSuccessfulSignInDateTime")
                end = pd.Timestamp(as_of.isoformat(), tz="UTC")
                age = (end - pd.Timestamp(seen)).total_seconds() if seen else None
                out.append((user["id"], age))
        return out

    later = AS_OF + timedelta(days=1000)
    now, then = _make(tmp_path / "now"), _make(tmp_path / "then", as_of=later)
    assert ages(now, AS_OF) == ages(then, later)
    assert (now.phones, now.separations) == (then.phones, then.separations)


def test_refuses_a_folder_with_someone_elses_files(tmp_path: Path, shipped: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a licensewatch demo folder"):
        _make(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    with pytest.raises(ConfigError, match="not a folder"):
        _make(tmp_path / "notes.txt")


def test_regenerating_replaces_only_its_own_files(tmp_path: Path, shipped: Path) -> None:
    root = tmp_path / "demo"
    _make(root)
    (root / "reports").mkdir()
    (root / "reports" / "kept.txt").write_text("a run's report", encoding="utf-8")
    (root / "licensewatch.db").write_bytes(b"a run's database")
    smaller = _make(root, accounts=300, departments=3)
    pages = sorted(p.name for p in (root / "exports" / "graph").glob("users_*.json"))
    assert pages == ["users_0001.json", "users_0002.json"]  # no stale pages of the larger one
    assert sum(len(page["value"]) for page in _pages(smaller)) == smaller.accounts
    assert (root / "reports" / "kept.txt").read_text(encoding="utf-8") == "a run's report"
    assert (root / "licensewatch.db").read_bytes() == b"a run's database"
    fresh = _make(tmp_path / "fresh", accounts=300, departments=3)
    assert _files(root) == _files(fresh.root) | {
        "reports/kept.txt": b"a run's report",
        "licensewatch.db": b"a run's database",
    }


@pytest.mark.parametrize(("accounts", "departments"), [(1, 1), (40, 50)])
def test_tiny_and_odd_sizes_still_make_a_valid_organization(
    tmp_path: Path, shipped: Path, accounts: int, departments: int
) -> None:
    org = _make(tmp_path / "demo", accounts=accounts, departments=departments)
    assert org.departments == departments
    settings = load_settings(org.config_path)
    sources = build_sources(settings)
    pulled = sources.accounts.pull()
    assert pulled.licenses["account_id"].nunique() == accounts
    sources.phones.pull()
    sources.separations.pull()
    read_reference(settings)


def test_bad_sizes_and_a_missing_rate_card_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate(tmp_path / "demo", accounts=0, as_of=AS_OF)
    monkeypatch.setattr(resources, "default_config_dir", lambda: tmp_path / "nowhere")
    with pytest.raises(LicensewatchError, match="rate card"):
        generate(tmp_path / "demo", accounts=10, departments=2, as_of=AS_OF)
    assert not (tmp_path / "demo").exists()
