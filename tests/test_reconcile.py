"""Reconcile: every reason code at its boundary, matching, routing, exemptions and counts."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from licensewatch import model
from licensewatch.config import Policy
from licensewatch.reconcile import ReconcileResult, reconcile
from tests.frames import AS_OF, account, days_ago, frame, license, phone, separation


def run(
    accounts: list[dict[str, Any]],
    licenses: list[dict[str, Any]] | None = None,
    phones: list[dict[str, Any]] | None = None,
    separations: list[dict[str, Any]] | None = None,
    exemptions: list[dict[str, Any]] | None = None,
    **kw: Any,
) -> ReconcileResult:
    policy = kw.pop("policy", Policy())
    if licenses is None:
        licenses = [license(int(a["account_id"].split("-")[1])) for a in accounts]
    return reconcile(
        frame(model.ACCOUNTS, accounts),
        frame(model.ACCOUNT_LICENSES, licenses),
        frame(model.PHONES, phones or []),
        frame(model.SEPARATIONS, separations or []),
        frame(model.EXEMPTIONS, exemptions or []),
        policy=policy,
        as_of=AS_OF,
        **kw,
    )


def reasons(result: ReconcileResult) -> dict[str, str]:
    return dict(zip(result.findings["subject"], result.findings["reasons"], strict=True))


@pytest.mark.parametrize(
    ("last", "expected"),
    [(90, None), (91, "INACTIVE"), (1, None), (700, "INACTIVE")],
)
def test_inactive_is_strictly_older_than_the_limit(last: int, expected: str | None) -> None:
    row = account(1, last_interactive_at=days_ago(last), last_successful_at=days_ago(last))
    assert reasons(run([row])).get("user1@contoso.org") == expected


def test_activity_signal_successful_prefers_the_last_success() -> None:
    # Recent failed attempts, last success long ago.
    row = account(
        1,
        last_interactive_at=days_ago(2),
        last_noninteractive_at=days_ago(1),
        last_successful_at=days_ago(200),
    )
    assert reasons(run([row])) == {"user1@contoso.org": "INACTIVE"}
    assert reasons(run([row], policy=Policy(activity_signal="any"))) == {}


def test_successful_falls_back_to_the_latest_attempt_when_missing() -> None:
    old = account(
        1,
        last_interactive_at=days_ago(300),
        last_noninteractive_at=days_ago(5),
        last_successful_at=None,
    )
    assert reasons(run([old])) == {}
    stale = account(
        2,
        last_interactive_at=days_ago(300),
        last_noninteractive_at=days_ago(200),
        last_successful_at=None,
    )
    result = run([stale])
    assert reasons(result) == {"user2@contoso.org": "INACTIVE"}
    assert result.findings.loc[0, "dormant_since"] == days_ago(200)


@pytest.mark.parametrize(
    ("created", "expected"),
    [(days_ago(91), "NEVER_SIGNED_IN"), (days_ago(90), None), (None, "NEVER_SIGNED_IN")],
)
def test_never_signed_in_needs_an_account_older_than_the_limit(
    created: pd.Timestamp | None, expected: str | None
) -> None:
    row = account(1, created_at=created, last_interactive_at=None, last_successful_at=None)
    assert reasons(run([row])).get("user1@contoso.org") == expected


def test_disabled_licensed_accounts_are_dormant_and_unlicensed_ones_are_not_findings() -> None:
    result = run(
        [account(1, account_enabled=False), account(2, account_enabled=False)],
        licenses=[license(1)],
    )
    assert reasons(result) == {"user1@contoso.org": "DISABLED_LICENSED"}
    assert result.counts["dormant_accounts"] == 1 and result.counts["licensed_accounts"] == 1


def test_every_licence_of_a_dormant_account_is_a_finding_with_a_stable_id() -> None:
    row = account(1, last_interactive_at=days_ago(200), last_successful_at=days_ago(200))
    result = run([row], licenses=[license(1), license(1, "POWER_BI_PRO")])
    assert sorted(result.findings["resource_id"]) == [
        "license:id-1:sku-POWER_BI_PRO",
        "license:id-1:sku-SPE_E3",
    ]
    assert sorted(result.findings["match_key"]) == ["POWER_BI_PRO", "SPE_E3"]


def test_guests_are_ignored_unless_licensed() -> None:
    guest = account(1, user_type="Guest", last_interactive_at=None, last_successful_at=None)
    licensed_guest = account(
        2, user_type="Guest", last_interactive_at=None, last_successful_at=None
    )
    result = run([guest, licensed_guest], licenses=[license(2)])
    assert reasons(result) == {"user2@contoso.org": "NEVER_SIGNED_IN"}
    assert result.counts["guests_ignored"] == 1


def test_separation_matches_by_employee_id_then_mail_then_upn() -> None:
    accounts = [
        account(1),  # by employee id
        account(2, employee_id=None),  # by mail
        account(3, employee_id=None, mail=None),  # by UPN
        account(4),  # no separation
    ]
    seps = [
        separation("e1", "someone.else@contoso.org", days_ago(10)),
        separation(None, "USER2@contoso.org ", days_ago(10)),
        separation("X9", "user3@contoso.org", days_ago(10)),
        separation("E77", "gone@contoso.org", days_ago(10)),
    ]
    result = run(accounts, separations=seps)
    assert reasons(result) == {f"user{n}@contoso.org": "SEPARATED" for n in (1, 2, 3)}
    assert result.counts["leavers_matched_by_email"] == 2
    assert result.counts["leavers_without_account"] == 1
    assert list(result.unmatched_leavers["email"]) == ["gone@contoso.org"]
    assert result.findings.loc[0, "dormant_since"] == days_ago(10)


@pytest.mark.parametrize(("grace", "separated"), [(0, True), (3, True), (4, False)])
def test_separation_grace_and_future_dates(grace: int, separated: bool) -> None:
    result = run(
        [account(1), account(2)],
        separations=[separation("E1", None, days_ago(3)), separation("E2", None, days_ago(-30))],
        policy=Policy(separation_grace_days=grace),
    )
    assert reasons(result) == ({"user1@contoso.org": "SEPARATED"} if separated else {})
    assert result.counts["leavers_future"] == (1 if separated else 2)


def test_the_department_falls_back_to_hr_then_unassigned() -> None:
    result = run(
        [
            account(1, department=None),
            account(2, department="  ", last_successful_at=days_ago(400)),
        ],
        separations=[separation("E1", None, days_ago(5), department="Legal")],
    )
    assert dict(zip(result.findings["subject"], result.findings["department"], strict=True)) == {
        "user1@contoso.org": "Legal",
        "user2@contoso.org": model.UNASSIGNED,
    }


def test_dormant_since_is_the_earliest_reason_start() -> None:
    row = account(
        1,
        last_interactive_at=days_ago(200),
        last_successful_at=days_ago(200),
        account_enabled=False,
    )
    result = run([row], separations=[separation("E1", None, days_ago(300))])
    assert result.findings.loc[0, "reasons"] == "SEPARATED;INACTIVE;DISABLED_LICENSED"
    assert result.findings.loc[0, "dormant_since"] == days_ago(300)


OWNERS = [
    account(1),
    account(2, last_interactive_at=days_ago(200), last_successful_at=days_ago(200)),
    account(3, upn="dup@a.org"),
    account(4, upn="dup@b.org"),
]


@pytest.mark.parametrize(
    ("mode", "owner"),
    [
        ("upn", "USER2@contoso.org"),
        ("upn_local_part", "user2"),
        ("mail", "user2@contoso.org"),
        ("employee_id", "e2"),
    ],
)
def test_phone_of_a_dormant_owner_for_each_owner_match(mode: str, owner: str) -> None:
    result = run(OWNERS, phones=[phone("SEP1", owner)], owner_match=mode)
    phones = result.findings[result.findings["resource_kind"] == "phone"]
    assert list(phones["reasons"]) == ["PHONE_OWNER_DORMANT"]
    assert list(phones["owner_upn"]) == ["user2@contoso.org"]
    assert list(phones["dormant_since"]) == [days_ago(200)]


def test_phones_without_owner_unknown_or_ambiguous_owner() -> None:
    result = run(
        OWNERS,
        phones=[
            phone("SEP1", None),
            phone("SEP2", "nobody"),
            phone("SEP3", "dup"),
            phone("SEP4", "user1"),
        ],
        owner_match="upn_local_part",
    )
    phones = result.findings[result.findings["resource_kind"] == "phone"]
    assert dict(zip(phones["subject"], phones["reasons"], strict=True)) == {
        "SEP1": "PHONE_NO_OWNER",
        "SEP2": "PHONE_NO_OWNER",
        "SEP3": "PHONE_NO_OWNER",
    }
    assert phones["dormant_since"].isna().all()  # filled by the pipeline from stored state
    c = result.counts
    assert (
        c["phones_without_owner"],
        c["phones_owner_not_found"],
        c["phones_owner_ambiguous"],
    ) == (
        1,
        1,
        1,
    )


def test_unregistered_phones_by_last_seen_then_status_change() -> None:
    phones = [
        phone("SEP1", "user1", registration_status="unregistered", last_seen_at=days_ago(91)),
        phone("SEP2", "user1", registration_status="unregistered", last_seen_at=days_ago(90)),
        phone(
            "SEP3",
            "user1",
            registration_status="rejected",
            last_seen_at=None,
            status_changed_at=days_ago(120),
        ),
        phone(
            "SEP4",
            "user1",
            registration_status="unregistered",
            last_seen_at=None,
            status_changed_at=None,
        ),
        phone(
            "SEP5", "user1", registration_status="partially_registered", last_seen_at=days_ago(500)
        ),
    ]
    result = run(OWNERS, phones=phones, owner_match="upn_local_part")
    assert {k: v for k, v in reasons(result).items() if k.startswith("SEP")} == {
        "SEP1": "PHONE_UNREGISTERED",
        "SEP3": "PHONE_UNREGISTERED",
    }
    assert result.counts["phones_unregistered_undated"] == 1


def test_ownerless_phones_are_routed_by_device_pool() -> None:
    result = run(
        OWNERS,
        phones=[phone("SEP1", None, device_pool="DP_Legal"), phone("SEP2", None, device_pool="X")],
        device_pool_departments={"dp_legal ": "Legal"},
    )
    phones = result.findings[result.findings["resource_kind"] == "phone"]
    assert dict(zip(phones["subject"], phones["department"], strict=True)) == {
        "SEP1": "Legal",
        "SEP2": model.UNASSIGNED,
    }


def test_exemptions_exclude_unexpired_subjects_and_protect_their_phones() -> None:
    dormant = {"last_interactive_at": days_ago(200), "last_successful_at": days_ago(200)}
    exemptions = [
        {
            "subject": "USER1@contoso.org",
            "reason": "leave",
            "approved_by": "HR",
            "expires_on": AS_OF,
        },
        {
            "subject": "user2@contoso.org",
            "reason": "old",
            "approved_by": "HR",
            "expires_on": days_ago(1),
        },
        {"subject": "sep9", "reason": "lobby", "approved_by": "ICT", "expires_on": days_ago(-10)},
        {
            "subject": "ghost@contoso.org",
            "reason": "?",
            "approved_by": "HR",
            "expires_on": days_ago(-10),
        },
    ]
    result = run(
        [account(1, **dormant), account(2, **dormant)],
        phones=[phone("SEP1", "user1"), phone("SEP9", None)],
        exemptions=exemptions,
        owner_match="upn_local_part",
    )
    assert reasons(result) == {"user2@contoso.org": "INACTIVE"}
    c = result.counts
    assert (c["exempted_findings"], c["expired_exemptions"], c["exemptions_unknown_subject"]) == (
        2,
        1,
        1,
    )


def test_counts_per_reason_and_schema() -> None:
    result = run(
        [
            account(1, account_enabled=False),
            account(2, last_interactive_at=None, last_successful_at=None),
        ],
        phones=[phone("SEP1", None)],
    )
    assert result.counts["reason.DISABLED_LICENSED"] == 1
    assert result.counts["reason.NEVER_SIGNED_IN"] == 1
    assert result.counts["reason.PHONE_NO_OWNER"] == 1
    assert result.counts["reason.SEPARATED"] == 0
    assert list(result.findings.columns) == list(model.FINDINGS)
