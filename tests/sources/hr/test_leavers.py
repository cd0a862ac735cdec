"""Who is a leaver on the day: rehires, duplicates, future dates; matching and data warnings."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from licensewatch import model
from licensewatch.config import Policy
from licensewatch.rules.leavers import MATCHED_BY_EMAIL, WARNINGS_PER_KIND, current_leavers
from licensewatch.rules.reconcile import ReconcileResult, reconcile
from tests.frames import AS_OF, account, days_ago, exemption, frame, license, separation

U1 = "user1@contoso.org"


def leavers(*rows: dict[str, Any], grace: int = 0) -> tuple[list[str], dict[str, int]]:
    result = current_leavers(frame(model.SEPARATIONS, list(rows)), as_of=AS_OF, grace_days=grace)
    assert {c: str(t) for c, t in result.leavers.dtypes.items()} == model.SEPARATIONS
    names = result.leavers["name"].tolist()
    return names, result.counts


def sep(eid: str | None, email: str | None, ago: int, name: str, **kw: Any) -> dict[str, Any]:
    return separation(eid, email, days_ago(ago), name=name, **kw)


def test_a_later_hire_record_supersedes_the_separation() -> None:
    names, counts = leavers(
        sep("E1", None, 200, "left then re-hired"),
        {"employee_id": "e1 ", "hired_on": days_ago(100)},  # a hire record: no separation date
        sep("E2", None, 200, "left, re-hired before"),
        {"employee_id": "E2", "hired_on": days_ago(300)},
    )
    assert names == ["left, re-hired before"]
    assert counts == {
        "leavers_effective": 1,
        "leavers_future": 0,
        "leavers_rehired": 1,
        "separations_duplicate": 0,
    }


@pytest.mark.parametrize(
    ("hired_ago", "leaver"),
    [
        (50, False),  # re-hired on the day they left
        (49, False),  # after it
        (51, True),  # before it: an older employment
        (-5, True),  # a re-hire still to come: a leaver until then
        (None, True),
    ],
)
def test_rehire_dates_on_the_separation_row(hired_ago: int | None, leaver: bool) -> None:
    hired = None if hired_ago is None else days_ago(hired_ago)
    names, _ = leavers(sep("E1", None, 50, "x", hired_on=hired))
    assert names == (["x"] if leaver else [])


def test_a_later_separation_after_a_rehire_counts_again() -> None:
    names, counts = leavers(
        sep("E1", None, 400, "first"),
        {"employee_id": "E1", "hired_on": days_ago(300)},
        sep("E1", None, 30, "second"),
    )
    assert names == ["second"]
    assert counts["separations_duplicate"] == 1 and counts["leavers_rehired"] == 0


def test_duplicates_keep_the_latest_effective_record_and_are_counted() -> None:
    names, counts = leavers(
        sep("E1", None, 90, "older"),
        sep("E1", None, 10, "latest"),
        sep("E1", None, -20, "future"),
        sep("E1", None, 90, "older again"),
        sep("E2", "b@contoso.org", 5, "b"),
        sep(None, "B@contoso.org ", 3, "b by e-mail"),  # the same person: takes id E2
        sep(None, "c@contoso.org", 3, "c"),
        sep(None, "C@contoso.org", 4, "c again"),
        sep("E9", None, -1, "tomorrow"),
    )
    assert names == ["latest", "b by e-mail", "c"]
    assert counts == {
        "leavers_effective": 3,
        "leavers_future": 1,
        "leavers_rehired": 0,
        "separations_duplicate": 5,
    }


def test_an_email_shared_by_two_employee_ids_is_not_merged() -> None:
    names, counts = leavers(
        sep("E1", "shared@contoso.org", 5, "one"),
        sep("E2", "shared@contoso.org", 5, "two"),
        sep(None, "shared@contoso.org", 1, "email only"),
    )
    assert names == ["one", "two", "email only"]
    assert counts["separations_duplicate"] == 0


def test_grace_makes_a_separation_future() -> None:
    assert leavers(sep("E1", None, 3, "x"), grace=3) == (
        ["x"],
        {
            "leavers_effective": 1,
            "leavers_future": 0,
            "leavers_rehired": 0,
            "separations_duplicate": 0,
        },
    )
    assert leavers(sep("E1", None, 3, "x"), grace=4)[1]["leavers_future"] == 1


def run(accounts: list[dict[str, Any]], seps: list[dict[str, Any]], **kw: Any) -> ReconcileResult:
    licensed = kw.pop("licensed", None)
    licenses = [license(int(a["account_id"].split("-")[1])) for a in accounts]
    if licensed is not None:
        licenses = [license(n) for n in licensed]
    return reconcile(
        frame(model.ACCOUNTS, accounts),
        frame(model.ACCOUNT_LICENSES, licenses),
        frame(model.PHONES, []),
        frame(model.SEPARATIONS, seps),
        frame(model.EXEMPTIONS, kw.pop("exemptions", [])),
        policy=Policy(),
        as_of=AS_OF,
        **kw,
    )


def test_rehired_people_are_not_separated_in_reconcile() -> None:
    result = run(
        [account(1), account(2)],
        [
            sep("E1", None, 200, "rehired", hired_on=days_ago(100)),
            sep("E2", None, 20, "gone"),
            sep("E2", None, 30, "gone (older record)"),
        ],
    )
    assert dict(zip(result.findings["subject"], result.findings["reasons"], strict=True)) == {
        "user2@contoso.org": "SEPARATED"
    }
    assert result.findings["separation_date"].tolist() == [days_ago(20)]
    c = result.counts
    assert (c["leavers_rehired"], c["separations_duplicate"], c["leavers_effective"]) == (1, 1, 1)
    assert result.warnings == ()


def test_leavers_matched_by_email_only_are_data_not_crashes() -> None:
    accounts = [
        account(1, employee_id="X1"),  # HR says E1, directory says X1: matched by mail
        account(2, employee_id=None, mail=None, department="Legal"),  # matched by UPN
        account(3),  # by employee id: not in the frame
        account(4, employee_id=None),  # matched by mail but unlicensed: not in the frame
    ]
    seps = [
        sep("E1", "USER1@contoso.org", 10, "Ann"),
        sep("E2", "user2@contoso.org", 10, "Bob"),
        sep("E3", "someone@contoso.org", 10, "Cy"),
        sep("E4", "user4@contoso.org", 10, "Di"),
        sep("E99", "gone@contoso.org", 10, "Zed"),
    ]
    result = run(accounts, seps, licensed=[1, 2, 3])
    by_email = result.matched_by_email
    assert {c: str(t) for c, t in by_email.dtypes.items()} == MATCHED_BY_EMAIL
    picked = by_email[["upn", "account_employee_id", "hr_employee_id", "hr_name"]].astype(object)
    assert picked.where(picked.notna(), None).values.tolist() == [
        ["user1@contoso.org", "X1", "E1", "Ann"],
        ["user2@contoso.org", None, "E2", "Bob"],
    ]
    assert by_email["separation_date"].tolist() == [days_ago(10)] * 2
    assert result.counts["leavers_matched_by_email"] == 3
    assert result.counts["licensed_leavers_matched_by_email"] == 2
    assert list(result.unmatched_leavers["name"]) == ["Zed"]
    assert result.warnings == (
        "[sources.separations]: leaver 'Zed' (employee_id 'E99', email 'gone@contoso.org'), "
        "separated 2019-12-21, matches no account",
        "[sources.separations]: licensed account 'user1@contoso.org' is taken for leaver 'Ann' "
        "(employee_id 'E1', email 'USER1@contoso.org') by e-mail only (the account's employee_id "
        "is 'X1')",
        "[sources.separations]: licensed account 'user2@contoso.org' is taken for leaver 'Bob' "
        "(employee_id 'E2', email 'user2@contoso.org') by e-mail only",
    )


def test_exemptions_of_unknown_subjects_are_warnings() -> None:
    result = run(
        [account(1)],
        [],
        exemptions=[
            exemption(U1, days_ago(-10)),
            exemption("Ghost@contoso.org", days_ago(-10)),
            exemption("old@contoso.org", days_ago(10)),  # expired: not a warning
        ],
    )
    assert result.counts["exemptions_unknown_subject"] == 1
    assert result.warnings == (
        "[exemptions]: the exemption of 'ghost@contoso.org' names no account or phone",
    )


def test_warnings_are_capped_per_kind() -> None:
    many = [sep(f"Z{i}", None, 10, f"gone {i}") for i in range(WARNINGS_PER_KIND + 7)]
    result = run([account(1)], many)
    assert len(result.warnings) == WARNINGS_PER_KIND + 1
    assert result.warnings[-1] == (
        "[sources.separations]: … and 7 more leavers that match no account"
    )
    assert result.counts["leavers_without_account"] == WARNINGS_PER_KIND + 7


def test_empty_inputs_have_empty_frames_and_no_warnings() -> None:
    result = run([], [])
    assert result.matched_by_email.empty and result.warnings == ()
    assert list(result.matched_by_email.columns) == list(MATCHED_BY_EMAIL)
    assert pd.api.types.is_datetime64_any_dtype(result.matched_by_email["separation_date"])
