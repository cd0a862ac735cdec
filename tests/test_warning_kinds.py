"""Data warnings are logged one line per kind (count and first); each one only at DEBUG."""

from __future__ import annotations

import logging

import pytest

from licensewatch.night.steps import log_warnings
from licensewatch.rules.warning_kinds import WarningKind, summarise

LEAVER = "[sources.separations]: leaver 'A B' (employee_id '{0}', email 'a{0}@x.org'), separated 2025-07-2{1}, matches no account"  # noqa: E501
EMAIL_ONLY = "[sources.separations]: licensed account 'c@x.org' is taken for leaver 'C' (employee_id '9', email 'C@X.ORG') by e-mail only"  # noqa: E501
DATE = "[sources.accounts]: account 'd@x.org' has last_sign_in 1899-01-01, before 1990-01-01: treated as missing"  # noqa: E501
OTHER = "[sources.phones]: phone 'SEP1' has 3 lines"


def test_warnings_are_counted_by_kind_with_the_capped_remainder() -> None:
    warnings = [
        LEAVER.format(1, 1),
        EMAIL_ONLY,
        LEAVER.format(2, 2),
        "[sources.separations]: … and 310 more leavers that match no account",
        DATE,
        OTHER,
        "[sources.phones]: phone 'SEP2' has 4 lines",
    ]
    assert summarise(warnings) == [
        WarningKind(
            "[sources.separations]", "leavers that match no account", 312, warnings[0][23:]
        ),
        WarningKind(
            "[sources.separations]",
            "accounts matched to a leaver by e-mail only",
            1,
            EMAIL_ONLY[23:],
        ),
        WarningKind("[sources.accounts]", "impossible last_sign_in dates", 1, DATE[20:]),
        WarningKind("[sources.phones]", "phone … has N lines", 2, "phone 'SEP1' has 3 lines"),
    ]
    assert summarise([]) == []


def test_the_log_has_one_warning_line_per_kind(caplog: pytest.LogCaptureFixture) -> None:
    warnings = [LEAVER.format(n, n % 10) for n in range(100)] + [EMAIL_ONLY]
    with caplog.at_level(logging.DEBUG, logger="licensewatch"):
        log_warnings(warnings)
    shown = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert shown == [
        "data: [sources.separations]: 100 leavers that match no account (first: "
        + LEAVER.format(0, 0)[23:]
        + ")",
        "data: [sources.separations]: 1 accounts matched to a leaver by e-mail only (first: "
        + EMAIL_ONLY[23:]
        + ")",
    ]
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert debug == [f"data: {w}" for w in warnings]
