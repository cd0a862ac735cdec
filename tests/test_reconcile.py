"""Reconcile: every reason code at its boundary, matching, routing, exemptions and counts."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from licensewatch import model
from licensewatch.config import Policy
from licensewatch.rules.reconcile import ReconcileResult, reconcile
from tests.frames import (
    AS_OF,
    account,
    days_ago,
    exemption,
    frame,
    idle,
    license,
    phone,
    separation,
)

Rows = list[dict[str, Any]]
NEVER = {"last_interactive_at": None, "last_noninteractive_at": None, "last_successful_at": None}
U1, U2, U3 = "user1@contoso.org", "user2@contoso.org", "user3@contoso.org"


def run(
    accounts: Rows,
    licenses: Rows | None = None,
    phones: Rows | None = None,
    separations: Rows | None = None,
    exemptions: Rows | None = None,
    *,
    policy: Policy | None = None,
    **kw: Any,
) -> ReconcileResult:
    """Reconcile as of AS_OF; by default every account holds one E3 licence."""
    if licenses is None:
        licenses = [license(int(a["account_id"].split("-")[1])) for a in accounts]
    return reconcile(
        frame(model.ACCOUNTS, accounts),
        frame(model.ACCOUNT_LICENSES, licenses),
        frame(model.PHONES, phones or []),
        frame(model.SEPARATIONS, separations or []),
        frame(model.EXEMPTIONS, exemptions or []),
        policy=policy or Policy(),
        as_of=AS_OF,
        **kw,
    )


def column(result: ReconcileResult, name: str, kind: str | None = None) -> dict[str, Any]:
    """``subject → name`` of the findings (of one resource kind)."""
    f = result.findings
    if kind is not None:
        f = f[f["resource_kind"] == kind]
    assert f["subject"].is_unique
    return dict(zip(f["subject"], f[name], strict=True))


def reasons(result: ReconcileResult, kind: str | None = None) -> dict[str, str]:
    return column(result, "reasons", kind)


# --- accounts: activity and the account reasons -------------------------------------------------


@pytest.mark.parametrize(
    ("last_sign_in", "expected"),
    [
        (days_ago(90), None),  # exactly inactive_days old: not yet
        (days_ago(90) - pd.Timedelta(microseconds=1), "INACTIVE"),
        (days_ago(91), "INACTIVE"),
        (days_ago(1), None),
        (days_ago(-1), None),  # a clock ahead of as_of
    ],
)
def test_inactive_means_strictly_older_than_inactive_days(
    last_sign_in: pd.Timestamp, expected: str | None
) -> None:
    row = account(1, last_interactive_at=last_sign_in, last_successful_at=last_sign_in)
    assert reasons(run([row])).get(U1) == expected


def test_inactive_days_comes_from_the_policy() -> None:
    rows = [idle(1, days=31)]
    assert reasons(run(rows, policy=Policy(inactive_days=30))) == {U1: "INACTIVE"}
    assert reasons(run(rows, policy=Policy(inactive_days=31))) == {}


@pytest.mark.parametrize(
    ("interactive", "noninteractive", "successful", "signal", "activity", "expected"),
    [
        # Recent failed attempts do not hide a successful sign-in long ago.
        (2, 1, 200, "successful", 200, "INACTIVE"),
        (2, 1, 200, "any", 1, None),
        # No successful sign-in recorded: the later of the two other signals.
        (300, 5, None, "successful", 5, None),
        (300, 200, None, "successful", 200, "INACTIVE"),
        (None, 200, None, "any", 200, "INACTIVE"),
        (200, None, 10, "any", 200, "INACTIVE"),  # "any" ignores last_successful_at
    ],
)
def test_activity_signal(
    interactive: int | None,
    noninteractive: int | None,
    successful: int | None,
    signal: str,
    activity: int,
    expected: str | None,
) -> None:
    def at(days: int | None) -> pd.Timestamp | None:
        return None if days is None else days_ago(days)

    row = account(
        1,
        last_interactive_at=at(interactive),
        last_noninteractive_at=at(noninteractive),
        last_successful_at=at(successful),
        account_enabled=False,  # always a finding, so that last_activity_at is visible
    )
    result = run([row], policy=Policy(activity_signal=signal))
    want = "DISABLED_LICENSED" if expected is None else f"{expected};DISABLED_LICENSED"
    assert reasons(result) == {U1: want}
    assert column(result, "last_activity_at") == {U1: days_ago(activity)}


@pytest.mark.parametrize(
    ("created", "expected", "since"),
    [
        (days_ago(91), "NEVER_SIGNED_IN", days_ago(91)),
        (days_ago(90), None, None),
        (days_ago(5), None, None),
        # Accounts older than the creation-date field have none: old enough; no start date.
        (None, "NEVER_SIGNED_IN", AS_OF),
    ],
)
def test_never_signed_in_graph_never_is_nat(
    created: pd.Timestamp | None, expected: str | None, since: pd.Timestamp | None
) -> None:
    result = run([account(1, created_at=created, **NEVER)])
    assert reasons(result).get(U1) == expected
    assert column(result, "dormant_since").get(U1) == since
    if expected:
        assert pd.isna(result.findings.loc[0, "last_activity_at"])


@pytest.mark.parametrize(
    ("enabled", "licensed", "expected"),
    [
        (False, True, "DISABLED_LICENSED"),
        (False, False, None),
        (True, True, None),
        (None, True, None),  # unknown is not disabled
    ],
)
def test_disabled_licensed(enabled: bool | None, licensed: bool, expected: str | None) -> None:
    result = run([account(1, account_enabled=enabled)], [license(1)] if licensed else [])
    assert reasons(result).get(U1) == expected


def test_disabled_licensed_is_dormant_since_last_activity_else_creation() -> None:
    result = run(
        [
            account(1, account_enabled=False, last_successful_at=days_ago(3)),
            account(2, account_enabled=False, created_at=days_ago(10), **NEVER),
        ]
    )
    assert column(result, "dormant_since") == {U1: days_ago(3), U2: days_ago(10)}
    assert reasons(result) == {U1: "DISABLED_LICENSED", U2: "DISABLED_LICENSED"}


@pytest.mark.parametrize(
    ("user_type", "licensed", "expected"),
    [
        ("Guest", False, None),
        ("GUEST ", False, None),
        ("Guest", True, "NEVER_SIGNED_IN"),
        ("Member", False, None),  # dormant, but no licence: no licence finding
        (None, True, "NEVER_SIGNED_IN"),
    ],
)
def test_guests_are_ignored_unless_licensed(
    user_type: str | None, licensed: bool, expected: str | None
) -> None:
    row = account(1, user_type=user_type, **NEVER)
    result = run([row], [license(1)] if licensed else [])
    assert reasons(result).get(U1) == expected
    ignored = user_type is not None and user_type.strip().casefold() == "guest" and not licensed
    assert result.counts["guests_ignored"] == int(ignored)


def test_unlicensed_dormant_accounts_still_make_their_phones_dormant() -> None:
    result = run(
        [idle(1), account(2, user_type="Guest", **NEVER)],
        licenses=[],
        phones=[phone("SEP1", U1), phone("SEP2", U2)],
    )
    assert reasons(result) == {"SEP1": "PHONE_OWNER_DORMANT"}  # an unlicensed guest is ignored
    assert result.counts["dormant_accounts"] == 0 and result.counts["licensed_accounts"] == 0


def test_every_licence_of_a_dormant_account_is_one_finding() -> None:
    licenses = [
        license(1),
        license(1, "POWER_BI_PRO"),
        license(1),  # listed twice: still one licence
        {"account_id": "ID-1 ", "sku_id": "sku-x", "sku_part_number": None},
        license(9),  # no such account
    ]
    result = run([idle(1), account(2)], licenses)
    f = result.findings
    assert list(f["resource_id"]) == [
        "license:id-1:sku-POWER_BI_PRO",
        "license:id-1:sku-SPE_E3",
        "license:id-1:sku-x",
    ]
    assert f["match_key"].tolist()[:2] == ["POWER_BI_PRO", "SPE_E3"]
    assert pd.isna(f.loc[2, "match_key"])  # priced later as unpriced, never dropped
    assert set(f["subject"]) == set(f["owner_upn"]) == {U1}
    assert set(f["display_name"]) == {"User 1"} and set(f["account_id"]) == {"id-1"}
    c = result.counts
    assert (c["license_findings"], c["dormant_accounts"], c["licenses_without_account"]) == (
        3,
        1,
        1,
    )


# --- separations -------------------------------------------------------------------------------


def test_separations_match_by_employee_id_then_mail_then_upn() -> None:
    accounts = [
        account(1),  # by employee id, although the e-mail names account 4
        account(2, employee_id=None),  # by mail
        account(3, employee_id=None, mail="other@contoso.org"),  # by UPN
        account(4),
        account(5),
    ]
    seps = [
        separation(" e1 ", "user4@contoso.org", days_ago(10)),
        separation(None, "USER2@contoso.org ", days_ago(10)),
        separation("X9", "user3@CONTOSO.org", days_ago(10)),
        separation("E77", "gone@contoso.org", days_ago(10), name="Gone"),
        separation(None, None, days_ago(10), name="Nobody"),
    ]
    result = run(accounts, separations=seps)
    assert reasons(result) == {U1: "SEPARATED", U2: "SEPARATED", U3: "SEPARATED"}
    assert set(column(result, "separation_date").values()) == {days_ago(10)}
    assert set(column(result, "dormant_since").values()) == {days_ago(10)}
    c = result.counts
    assert (c["leavers_effective"], c["leavers_matched_by_email"]) == (5, 2)
    assert c["leavers_without_account"] == 2
    assert list(result.unmatched_leavers["name"]) == ["Gone", "Nobody"]
    assert dict(result.unmatched_leavers.dtypes) == dict(model.empty(model.SEPARATIONS).dtypes)


@pytest.mark.parametrize(
    ("grace", "separated_on", "expected"),
    [
        (0, days_ago(0), "SEPARATED"),  # leaving on as_of itself
        (0, days_ago(-1), None),  # tomorrow: not yet effective
        (3, days_ago(3), "SEPARATED"),  # grace ends on as_of
        (4, days_ago(3), None),
    ],
)
def test_separation_grace_and_future_dates(
    grace: int, separated_on: pd.Timestamp, expected: str | None
) -> None:
    result = run(
        [account(1)],
        separations=[separation("E1", None, separated_on)],
        policy=Policy(separation_grace_days=grace),
    )
    assert reasons(result).get(U1) == expected
    effective = expected is not None
    assert (result.counts["leavers_effective"], result.counts["leavers_future"]) == (
        int(effective),
        int(not effective),
    )
    if effective:
        since = separated_on + pd.Timedelta(days=grace)
        assert column(result, "dormant_since") == {U1: since}
        assert column(result, "separation_date") == {U1: separated_on}
    else:
        assert result.unmatched_leavers.empty  # a future leaver is not reported as unmatched


def test_hr_duplicates_take_the_latest_effective_separation() -> None:
    seps = [
        separation("E1", None, days_ago(300), department="Old"),
        separation("E1", U1, days_ago(20), department="Legal"),
        separation("E1", None, days_ago(-30)),  # future: ignored
        separation("E2", None, days_ago(-5)),  # only a future one
    ]
    result = run([account(1, department=None), account(2)], separations=seps)
    assert reasons(result) == {U1: "SEPARATED"}
    assert column(result, "separation_date") == {U1: days_ago(20)}
    assert column(result, "department") == {U1: "Legal"}
    # Counted per person: E1 left (its two other records are duplicates), E2 leaves later.
    c = result.counts
    assert (c["leavers_effective"], c["leavers_future"], c["separations_duplicate"]) == (1, 1, 2)


def test_one_separation_reaches_every_account_of_the_person() -> None:
    accounts = [account(1), account(2, employee_id="e1", upn="adm-user1@contoso.org")]
    result = run(accounts, separations=[separation("E1", None, days_ago(1))])
    assert reasons(result) == {U1: "SEPARATED", "adm-user1@contoso.org": "SEPARATED"}


def test_dormant_since_is_the_earliest_start_among_the_reasons() -> None:
    row = idle(1, days=200, account_enabled=False)
    result = run([row], separations=[separation("E1", None, days_ago(300))])
    assert reasons(result) == {U1: "SEPARATED;INACTIVE;DISABLED_LICENSED"}
    assert column(result, "dormant_since") == {U1: days_ago(300)}
    later = run([row], separations=[separation("E1", None, days_ago(20))])
    assert column(later, "dormant_since") == {U1: days_ago(200)}


@pytest.mark.parametrize(
    ("department", "hr_department", "expected"),
    [
        ("Finance", "Legal", "Finance"),
        (None, "Legal", "Legal"),
        ("  ", "Legal", "Legal"),
        (None, None, model.UNASSIGNED),
        (" Finance ", None, "Finance"),
    ],
)
def test_licence_department_is_the_account_s_else_hr_s_else_unassigned(
    department: str | None, hr_department: str | None, expected: str
) -> None:
    seps = [separation("E1", None, days_ago(5), department=hr_department)]
    result = run([account(1, department=department)], separations=seps)
    assert column(result, "department") == {U1: expected}


# --- phones ------------------------------------------------------------------------------------

OWNERS = [
    account(1),
    idle(2, days=200, employee_id="E-2"),
    account(3, upn="dup@a.org"),
    account(4, upn="dup@b.org", mail=None, employee_id=None),
]


@pytest.mark.parametrize(
    ("mode", "owner_user_id"),
    [
        ("upn", " USER2@contoso.org"),
        ("upn_local_part", "User2"),
        ("mail", "user2@CONTOSO.org"),
        ("employee_id", "e-2 "),
    ],
)
def test_phone_owner_for_each_owner_match(mode: str, owner_user_id: str) -> None:
    result = run(OWNERS, phones=[phone("SEPAbC1", owner_user_id)], owner_match=mode)
    f = result.findings[result.findings["resource_kind"] == "phone"].reset_index(drop=True)
    assert f.loc[0, "resource_id"] == "phone:sepabc1"
    assert (f.loc[0, "subject"], f.loc[0, "reasons"]) == ("SEPAbC1", "PHONE_OWNER_DORMANT")
    assert (f.loc[0, "owner_upn"], f.loc[0, "account_id"]) == (U2, "id-2")
    assert (f.loc[0, "display_name"], f.loc[0, "department"]) == ("User 2", "Finance")
    assert f.loc[0, "dormant_since"] == days_ago(200) and f.loc[0, "match_key"] == "Cisco 8845"
    assert f.loc[0, "last_activity_at"] == AS_OF  # the phone's own last_seen_at


@pytest.mark.parametrize(
    ("mode", "owner_user_id", "reason"),
    [
        ("upn", U2, "PHONE_OWNER_DORMANT"),
        ("upn", "user2", "PHONE_NO_OWNER"),  # a local part is not a UPN
        ("upn_local_part", U2, "PHONE_NO_OWNER"),
        ("mail", "id-2", "PHONE_NO_OWNER"),
        ("employee_id", U2, "PHONE_NO_OWNER"),
    ],
)
def test_owner_match_compares_only_its_own_key(mode: str, owner_user_id: str, reason: str) -> None:
    result = run(OWNERS, phones=[phone("SEP1", owner_user_id)], owner_match=mode)
    assert reasons(result, "phone") == {"SEP1": reason}


def test_phones_without_owner_unknown_or_ambiguous_owner() -> None:
    phones = [
        phone("SEP1", None),
        phone("SEP2", "  "),
        phone("SEP3", "nobody"),
        phone("SEP4", "dup"),  # dup@a.org and dup@b.org
        phone("SEP5", "user1"),  # active owner
    ]
    result = run(OWNERS, phones=phones, owner_match="upn_local_part")
    assert reasons(result, "phone") == {f"SEP{n}": "PHONE_NO_OWNER" for n in (1, 2, 3, 4)}
    f = result.findings[result.findings["resource_kind"] == "phone"]
    assert f["dormant_since"].isna().all()  # the pipeline fills it from stored state
    assert f["owner_upn"].isna().all() and f["account_id"].isna().all()
    assert list(f["display_name"]) == [f"SEP{n} desk" for n in (1, 2, 3, 4)]
    c = result.counts
    assert (c["phones_without_owner"], c["phones_owner_not_found"]) == (2, 1)
    assert c["phones_owner_ambiguous"] == 1


def test_two_accounts_with_one_upn_make_the_owner_ambiguous() -> None:
    accounts = [account(1), idle(2, upn=U1)]
    result = run(accounts, phones=[phone("SEP1", U1)])
    assert reasons(result, "phone") == {"SEP1": "PHONE_NO_OWNER"}
    assert result.counts["phones_owner_ambiguous"] == 1


@pytest.mark.parametrize(
    ("status", "last_seen", "changed", "expected", "undated"),
    [
        ("unregistered", days_ago(91), None, "PHONE_UNREGISTERED", 0),
        ("unregistered", days_ago(90), days_ago(400), None, 0),  # last seen wins over changed
        ("rejected", None, days_ago(91), "PHONE_UNREGISTERED", 0),
        ("unknown", None, days_ago(90), None, 0),
        ("partially_registered", days_ago(500), None, "PHONE_UNREGISTERED", 0),
        (None, days_ago(500), None, "PHONE_UNREGISTERED", 0),
        ("unregistered", None, None, None, 1),  # no date: not flagged, counted
        ("registered", days_ago(500), days_ago(500), None, 0),
        (" Registered ", days_ago(500), None, None, 0),
    ],
)
def test_unregistered_phones(
    status: str | None,
    last_seen: pd.Timestamp | None,
    changed: pd.Timestamp | None,
    expected: str | None,
    undated: int,
) -> None:
    row = phone("SEP1", U1, registration_status=status, last_seen_at=last_seen)
    row["status_changed_at"] = changed
    result = run(OWNERS, phones=[row])
    assert reasons(result, "phone").get("SEP1") == expected
    assert result.counts["phones_unregistered_undated"] == undated
    if expected:
        stamp = last_seen if last_seen is not None else changed
        assert column(result, "dormant_since", "phone") == {"SEP1": stamp}


def test_phone_inactive_days_comes_from_the_policy() -> None:
    row = phone("SEP1", U1, registration_status="unregistered", last_seen_at=days_ago(11))
    for limit, expected in ((10, {"SEP1": "PHONE_UNREGISTERED"}), (11, {})):
        result = run(OWNERS, phones=[row], policy=Policy(phone_inactive_days=limit))
        assert reasons(result, "phone") == expected


@pytest.mark.parametrize(
    ("owner", "last_seen", "reason", "since"),
    [
        (U2, days_ago(400), "PHONE_UNREGISTERED;PHONE_OWNER_DORMANT", days_ago(400)),
        (U2, days_ago(100), "PHONE_UNREGISTERED;PHONE_OWNER_DORMANT", days_ago(200)),
        (None, days_ago(100), "PHONE_UNREGISTERED;PHONE_NO_OWNER", days_ago(100)),
    ],
)
def test_phone_dormant_since_is_the_earliest_start(
    owner: str | None, last_seen: pd.Timestamp, reason: str, since: pd.Timestamp
) -> None:
    row = phone("SEP1", owner, registration_status="unregistered", last_seen_at=last_seen)
    result = run(OWNERS[:2], phones=[row])
    assert reasons(result, "phone") == {"SEP1": reason}
    assert column(result, "dormant_since", "phone") == {"SEP1": since}


def test_phone_of_a_separated_owner_carries_the_separation_date() -> None:
    result = run(
        [account(1)], phones=[phone("SEP1", U1)], separations=[separation("E1", None, days_ago(7))]
    )
    assert column(result, "separation_date", "phone") == {"SEP1": days_ago(7)}
    assert column(result, "dormant_since", "phone") == {"SEP1": days_ago(7)}


@pytest.mark.parametrize(
    ("owner", "pool", "expected"),
    [
        (None, "DP_Legal", "Legal"),  # pool names compare case-folded
        (None, "dp_legal", "Legal"),
        (None, "DP_Other", model.UNASSIGNED),
        (None, None, model.UNASSIGNED),
        ("user2@contoso.org", "DP_Legal", "Finance"),  # the owner's department first
        ("user3@contoso.org", "DP_Legal", "Legal"),  # owner with no department: the pool's
        ("user4@contoso.org", "DP_Legal", "Audit"),  # owner's HR department before the pool
    ],
)
def test_phone_department_routing(owner: str | None, pool: str | None, expected: str) -> None:
    accounts = [
        idle(2),
        idle(3, department=None),
        account(4, department=None),
    ]
    seps = [separation("E4", None, days_ago(3), department="Audit")]
    result = run(
        accounts,
        phones=[phone("SEP1", owner, device_pool=pool)],
        separations=seps,
        device_pool_departments={" DP_LEGAL": "Legal"},
    )
    assert column(result, "department", "phone") == {"SEP1": expected}


# --- exemptions --------------------------------------------------------------------------------


def test_exemptions_in_force_expired_and_unknown() -> None:
    exemptions = [
        exemption(" USER1@contoso.org", AS_OF),  # last day: still in force
        exemption(U2, days_ago(1)),  # expired yesterday
        exemption("sep9", days_ago(-10)),
        exemption("ghost@contoso.org", days_ago(-10)),
        exemption("old-ghost", days_ago(10)),  # expired: not counted as unknown
    ]
    phones = [
        phone("SEP1", U1),  # exempted owner: not PHONE_OWNER_DORMANT
        phone("SEP2", U1, registration_status="unregistered", last_seen_at=days_ago(100)),
        phone("SEP9", None),  # exempted phone
    ]
    result = run([idle(1), idle(2)], phones=phones, exemptions=exemptions)
    assert reasons(result) == {U2: "INACTIVE", "SEP2": "PHONE_UNREGISTERED"}
    c = result.counts
    assert (c["exempted_findings"], c["expired_exemptions"], c["exemptions_unknown_subject"]) == (
        2,
        2,
        1,
    )
    assert (c["license_findings"], c["phone_findings"], c["dormant_accounts"]) == (1, 1, 1)


def test_an_exemption_removes_all_licences_of_its_account() -> None:
    result = run(
        [idle(1)],
        [license(1), license(1, "POWER_BI_PRO")],
        exemptions=[exemption(U1, days_ago(-1))],
    )
    assert result.findings.empty and result.counts["exempted_findings"] == 2


# --- the whole result --------------------------------------------------------------------------


def scenario(order: int = 1) -> ReconcileResult:
    accounts = [
        idle(1, department="Zeta"),
        account(2, department="Alpha", account_enabled=False),
        account(3, department="Alpha", **NEVER),
        account(4),
        account(5, user_type="Guest", **NEVER),
    ]
    phones = [
        phone("SEP-B", None, device_pool="DP_A"),
        phone("SEP-A", U1),
        phone("sep-c", "user4@contoso.org", registration_status="unregistered"),
    ]
    phones[2]["last_seen_at"] = phones[2]["status_changed_at"] = None
    licenses = [license(1), license(2), license(2, "VISIO"), license(3), license(4)]
    seps = [separation("E1", None, days_ago(3)), separation("E9", None, days_ago(-3))]
    return run(
        accounts[::order],
        licenses[::order],
        phones[::order],
        seps[::order],
        [exemption("nothing", days_ago(-1))],
        device_pool_departments={"dp_a": "Alpha"},
    )


def test_findings_are_sorted_and_conform_to_the_schema() -> None:
    f = scenario().findings
    assert dict(f.dtypes.astype(str)) == {
        col: str(pd.api.types.pandas_dtype(dtype)) for col, dtype in model.FINDINGS.items()
    }
    assert list(zip(f["department"], f["resource_kind"], f["subject"], strict=True)) == [
        ("Alpha", "license", "user2@contoso.org"),
        ("Alpha", "license", "user2@contoso.org"),
        ("Alpha", "license", "user3@contoso.org"),
        ("Alpha", "phone", "SEP-B"),
        ("Zeta", "license", "user1@contoso.org"),
        ("Zeta", "phone", "SEP-A"),
    ]
    assert list(f["resource_id"][:2]) == ["license:id-2:sku-SPE_E3", "license:id-2:sku-VISIO"]
    reversed_input = scenario(order=-1)
    pd.testing.assert_frame_equal(reversed_input.findings, f)
    assert reversed_input.counts == scenario().counts


def test_counts() -> None:
    counts = dict(scenario().counts)
    expected = {
        "accounts": 5,
        "licensed_accounts": 4,
        "guests_ignored": 1,
        "dormant_accounts": 3,
        "license_findings": 4,
        "phones": 3,
        "phone_findings": 2,
        "exempted_findings": 0,
        "expired_exemptions": 0,
        "exemptions_unknown_subject": 1,
        "leavers_effective": 1,
        "leavers_future": 1,
        "leavers_without_account": 0,
        "leavers_matched_by_email": 0,
        "phones_without_owner": 1,
        "phones_owner_not_found": 0,
        "phones_owner_ambiguous": 0,
        "phones_unregistered_undated": 1,
        "reason.SEPARATED": 1,
        "reason.INACTIVE": 1,
        "reason.NEVER_SIGNED_IN": 1,
        "reason.DISABLED_LICENSED": 2,
        "reason.PHONE_UNREGISTERED": 0,
        "reason.PHONE_OWNER_DORMANT": 1,
        "reason.PHONE_NO_OWNER": 1,
    }
    assert {k: counts[k] for k in expected} == expected
    assert all(isinstance(v, int) for v in counts.values())


def test_empty_inputs_give_an_empty_result() -> None:
    result = run([], [])
    assert result.findings.empty and list(result.findings.columns) == list(model.FINDINGS)
    assert result.unmatched_leavers.empty and result.counts["accounts"] == 0
    assert result.counts["reason.INACTIVE"] == 0


def test_bad_arguments_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="owner_match"):
        run([account(1)], owner_match="cn")
    with pytest.raises(ValueError, match="activity_signal"):
        run([account(1)], policy=Policy(activity_signal="recent"))
    with pytest.raises(ValueError, match="timezone-aware"):
        reconcile(
            *(model.empty(s) for s in (model.ACCOUNTS, model.ACCOUNT_LICENSES, model.PHONES)),
            model.empty(model.SEPARATIONS),
            model.empty(model.EXEMPTIONS),
            policy=Policy(),
            as_of=pd.Timestamp("2019-12-31"),
        )


def test_only_phones_not_registered_count_as_undated() -> None:
    undated = {"last_seen_at": None, "status_changed_at": None}
    phones = [
        phone("SEP1", U1, registration_status="registered", **undated),
        phone("SEP2", U1, registration_status="rejected", **undated),
    ]
    result = run(OWNERS, phones=phones)
    assert reasons(result, "phone") == {}
    assert result.counts["phones_unregistered_undated"] == 1


def test_a_phone_s_last_activity_is_its_last_seen_time_only() -> None:
    phones = [
        phone("SEP1", None, last_seen_at=days_ago(3)),
        phone("SEP2", None, last_seen_at=None, status_changed_at=days_ago(120)),
    ]
    result = run(OWNERS, phones=phones)
    last = column(result, "last_activity_at", "phone")
    assert last["SEP1"] == days_ago(3) and pd.isna(last["SEP2"])
