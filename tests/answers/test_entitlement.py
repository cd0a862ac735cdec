"""Who may answer for a department: focal points, cc and delegates from focal_points.csv."""

from __future__ import annotations

from pathlib import Path

import pytest

from licensewatch.answers.entitlement import entitled_addresses, may_answer
from licensewatch.errors import InputError
from licensewatch.sources.reference import read_focal_points


def _focal_points(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "focal_points.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_focal_points_cc_and_delegates_may_answer_for_their_department_only(
    tmp_path: Path,
) -> None:
    table = read_focal_points(
        _focal_points(
            tmp_path,
            "department,email,cc,delegates\n"
            "Finance,Ana.Perez@example.org,fin-admin@example.org,"
            "deputy@example.org; assistant@example.org\n"
            "Légal,juriste@example.org,,\n",
        )
    )
    assert entitled_addresses(table, "FINANCE") == {
        "ana.perez@example.org",
        "fin-admin@example.org",
        "deputy@example.org",
        "assistant@example.org",
    }
    assert may_answer("ASSISTANT@example.org", table, "Finance")
    assert may_answer("juriste@example.org", table, "Le\u0301gal")  # decomposed é
    assert not may_answer("juriste@example.org", table, "Finance")
    assert not may_answer("ana.perez@example.org", table, "Légal")
    assert not may_answer("", table, "Finance")
    assert entitled_addresses(table, "Research") == frozenset()


def test_a_bad_delegate_address_names_its_row_and_column(tmp_path: Path) -> None:
    path = _focal_points(
        tmp_path, "department,email,delegates\nFinance,a@example.org,not-an-address\n"
    )
    with pytest.raises(InputError) as caught:
        read_focal_points(path)
    text = caught.value.one_line()
    assert "delegates" in text and "row 2" in text and "focal_points.csv" in text
