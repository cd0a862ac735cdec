"""Which absent resources may be booked as removed: only those of a complete pull (issue 13.2)."""

from __future__ import annotations

import pytest

from licensewatch.rules.removals import bookable_removals

GONE = ["license:A:E3", "LICENSE:b:pbi", "phone:sep1", "other:x"]


@pytest.mark.parametrize(
    ("accounts", "phones", "expected"),
    [
        (True, True, GONE),
        (False, True, ["phone:sep1"]),
        (True, False, ["license:A:E3", "LICENSE:b:pbi"]),
        (False, False, []),
    ],
)
def test_only_a_complete_feed_books_its_removals(
    accounts: bool, phones: bool, expected: list[str]
) -> None:
    assert bookable_removals(GONE, accounts_complete=accounts, phones_complete=phones) == expected
