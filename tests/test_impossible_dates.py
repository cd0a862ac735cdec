"""Dates before 1990 or after the as-of day never become money (``rules.date_bounds``)."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from licensewatch import model
from licensewatch.cli.parser import main
from licensewatch.rules.date_bounds import FLOOR, check_dates, future_limit
from tests import orgfiles

AS_OF = pd.Timestamp(orgfiles.AS_OF, tz="UTC")
#: The separations without Zed Gone, who matches no account (a warning of its own).
SEPARATIONS = "\n".join(line for line in orgfiles.SEPARATIONS.splitlines() if "E99" not in line)


def _org(tmp_path: Path, *, separations: str = SEPARATIONS, **signins: str) -> Path:
    """The tiny organization with the given users' (by first name) last sign-ins replaced."""
    org = orgfiles.write_org(tmp_path / "org", separations=separations)
    for page in (tmp_path / "org" / "exports" / "graph").glob("users_*.json"):
        doc = json.loads(page.read_text(encoding="utf-8"))
        for user in doc["value"]:
            first = user["displayName"].split()[0].lower()
            if first in signins:
                activity = user.setdefault("signInActivity", {})
                activity["lastSignInDateTime"] = signins[first]
                activity["lastSuccessfulSignInDateTime"] = signins[first]
        page.write_text(json.dumps(doc), encoding="utf-8")
    return org


def _run(org: Path, *args: str) -> tuple[int, dict[str, Any], list[dict[str, str]]]:
    code = main(["run", "--config", str(org), "--as-of", orgfiles.AS_OF, *args])
    reports = org.parent / "reports" / orgfiles.AS_OF
    if not (reports / "run_summary.json").exists():
        return code, {}, []
    summary = json.loads((reports / "run_summary.json").read_text(encoding="utf-8"))
    with (reports / "findings.csv").open(encoding="utf-8", newline="") as f:
        return code, summary, list(csv.DictReader(f))


def _licence(findings: list[dict[str, str]], upn: str) -> list[dict[str, str]]:
    return [f for f in findings if f["subject"] == upn and f["item"] == "M365_E3"]


def test_a_separation_in_year_one_is_ignored_with_a_warning_not_accrued(tmp_path: Path) -> None:
    seps = SEPARATIONS.replace(
        "E4,dave@contoso.org,Dave Osei,Legal,2019-11-30",
        "E4,dave@contoso.org,Dave Osei,Legal,0001-01-01",
    )
    code, summary, findings = _run(_org(tmp_path, separations=seps))
    assert code == 0
    # Dave signed in two days before the as-of day: without a credible separation he is active.
    assert _licence(findings, "dave@contoso.org") == []
    assert Decimal(summary["accrued_avoidable_usd"]) < Decimal("2000")
    assert summary["implausible_dates"] == {"separations.separation_date": 1}
    assert any(
        "employee_id 'E4'" in w
        and "has separation_date 0001-01-01, before 1990-01-01: the separation is ignored" in w
        for w in summary["warnings"]
    ), summary["warnings"]


def test_a_last_sign_in_in_year_1000_is_treated_as_missing(tmp_path: Path) -> None:
    code, summary, findings = _run(_org(tmp_path, bob="1000-01-01T08:00:00Z"))
    assert code == 0
    (bob,) = _licence(findings, "bob@contoso.org")
    # No credible sign-in: never signed in since the account was created (2018-01-01).
    assert bob["reasons"] == "NEVER_SIGNED_IN" and bob["dormant_since"] == "2018-01-01"
    assert Decimal(bob["accrued_cost_usd"]) < Decimal("2") * Decimal("189.60")
    assert summary["implausible_dates"] == {
        "accounts.last_interactive_at": 1,
        "accounts.last_successful_at": 1,
    }
    assert any(
        "account 'bob@contoso.org' (id " in w and "has last_interactive_at 1000-01-01, before" in w
        for w in summary["warnings"]
    )


def test_a_last_sign_in_on_9999_12_31_does_not_hide_the_account(tmp_path: Path) -> None:
    code, summary, findings = _run(_org(tmp_path, frank="9999-12-31T00:00:00Z"))
    assert code == 0
    (frank,) = _licence(findings, "frank@contoso.org")
    assert frank["reasons"] == "NEVER_SIGNED_IN"
    assert any(
        "'frank@contoso.org'" in w and "has last_successful_at 9999-12-31, after" in w
        for w in summary["warnings"]
    )


def test_strict_refuses_impossible_dates_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = _org(tmp_path / "clean")
    assert _run(clean, "--strict")[0] == 0  # the organization itself has no data warning
    dirty = _org(tmp_path / "dirty", frank="9999-12-31T00:00:00Z")
    capsys.readouterr()
    code, summary, _ = _run(dirty, "--strict")
    assert code == 2 and summary == {}  # nothing written
    err = capsys.readouterr().err
    assert "frank@contoso.org" in err and "9999-12-31" in err


def _accounts(**columns: list[str | None]) -> pd.DataFrame:
    frame = pd.DataFrame({"upn": [f"u{i}@x" for i in range(len(next(iter(columns.values()))))]})
    for column, values in columns.items():
        frame[column] = pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")
    return model.conform(frame, model.ACCOUNTS)


def test_check_dates_sets_aside_dates_before_the_floor_and_in_the_future() -> None:
    now = pd.Timestamp("2020-01-05T12:00:00Z")
    assert future_limit(AS_OF, now) == pd.Timestamp("2020-01-06T12:00:00Z")
    frame = _accounts(
        last_interactive_at=[
            "1989-12-31T23:59:59Z",  # before the floor
            "1990-01-01T00:00:00Z",  # the floor itself is fine
            "2020-01-03T00:00:00Z",  # after the as-of day, before the clock: a re-run of a past day
            "2020-01-06T12:00:01Z",  # more than a day after the clock
            None,
        ],
        created_at=["2018-01-01", "2018-01-01", "2018-01-01", "2018-01-01", "2999-01-01"],
    )
    checked = check_dates(frame, "accounts", as_of=AS_OF, now=now)
    kept = checked.frame["last_interactive_at"]
    assert kept.isna().tolist() == [True, False, False, True, True]
    assert kept[1] == FLOOR
    assert checked.frame["created_at"].isna().tolist() == [False] * 4 + [True]
    assert checked.counts == {"accounts.last_interactive_at": 2, "accounts.created_at": 1}
    assert len(checked.warnings) == 3
    assert checked.warnings[0] == (
        "[sources.accounts]: account 'u4@x' has created_at 2999-01-01, "
        "after 2020-01-05 (the as-of day or when it was read): treated as missing"
    )
    assert checked.warnings[1] == (
        "[sources.accounts]: account 'u0@x' has last_interactive_at 1989-12-31, "
        "before 1990-01-01: treated as missing"
    )
    assert str(checked.frame["last_interactive_at"].dtype) == model.DATETIME


def test_future_separations_are_normal_and_phone_dates_are_checked() -> None:
    seps = model.conform(
        pd.DataFrame(
            {
                "employee_id": ["E1", "E2"],
                "separation_date": pd.to_datetime(
                    ["9999-12-31", "1900-01-01"], utc=True, format="ISO8601"
                ),
            }
        ),
        model.SEPARATIONS,
    )
    checked = check_dates(seps, "separations", as_of=AS_OF, now=AS_OF)
    assert checked.frame["separation_date"].isna().tolist() == [False, True]
    assert "the separation is ignored" in checked.warnings[0]
    phones = model.conform(
        pd.DataFrame(
            {
                "device_name": ["SEP1", "SEP2"],
                "status_changed_at": pd.to_datetime(
                    ["0001-01-01", "2019-06-01"], utc=True, format="ISO8601"
                ),
                "last_seen_at": pd.to_datetime(
                    ["2019-06-01", "3000-01-01"], utc=True, format="ISO8601"
                ),
            }
        ),
        model.PHONES,
    )
    checked = check_dates(phones, "phones", as_of=AS_OF, now=AS_OF)
    assert checked.counts == {"phones.status_changed_at": 1, "phones.last_seen_at": 1}
    assert checked.frame["status_changed_at"].isna().tolist() == [True, False]
    assert checked.frame["last_seen_at"].isna().tolist() == [False, True]
    assert "phone 'SEP1' has status_changed_at 0001-01-01" in checked.warnings[0]


def test_warnings_are_capped_per_column() -> None:
    frame = _accounts(last_interactive_at=["1000-01-01"] * 60)
    checked = check_dates(frame, "accounts", as_of=AS_OF, now=AS_OF)
    assert checked.counts == {"accounts.last_interactive_at": 60}
    assert len(checked.warnings) == 51
    assert checked.warnings[-1] == (
        "[sources.accounts]: … and 10 more impossible last_interactive_at dates"
    )
