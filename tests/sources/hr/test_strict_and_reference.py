"""--strict turns data warnings into errors; exemptions may run at most a year."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from licensewatch.config import load_settings
from licensewatch.errors import EXIT_USAGE, InputError
from licensewatch.night.inputs import read_reference
from licensewatch.rules.strictness import HINT, as_problem, enforce
from licensewatch.sources.reference import read_exemptions
from tests import orgfiles

WARNINGS = (
    "[sources.separations]: leaver 'Zed' (employee_id 'E99'), separated 2019-10-01, matches "
    "no account",
    "[exemptions]: the exemption of 'ghost@contoso.org' names no account or phone",
)


def test_enforce_does_nothing_without_strict_or_warnings() -> None:
    enforce(WARNINGS, strict=False)
    enforce((), strict=True)


def test_enforce_lists_every_warning_as_a_problem_of_its_config_table() -> None:
    with pytest.raises(InputError) as exc:
        enforce(WARNINGS, strict=True)
    assert exc.value.exit_code == EXIT_USAGE
    assert [str(p) for p in exc.value.problems] == list(WARNINGS)
    assert exc.value.problems[0].file == "[sources.separations]"
    assert exc.value.hint == HINT


def test_a_warning_without_a_place_is_data() -> None:
    assert str(as_problem("something odd")) == "data: something odd"


AS_OF = pd.Timestamp("2019-12-31", tz="UTC")


def exemptions(tmp_path: Path, *expiries: str) -> Path:
    path = tmp_path / "exemptions.csv"
    rows = "".join(f"u{i}@contoso.org,leave,HR,{d}\n" for i, d in enumerate(expiries))
    path.write_text("subject,reason,approved_by,expires_on\n" + rows, encoding="utf-8")
    return path


def test_an_exemption_may_run_a_year_after_as_of_and_no_longer(tmp_path: Path) -> None:
    path = exemptions(tmp_path, "2020-12-31", "2021-01-01", "2019-01-01", "2030-06-30")
    with pytest.raises(InputError) as exc:
        read_exemptions(path, AS_OF)
    assert [str(p) for p in exc.value.problems] == [
        f"{path}, row 3, column 'expires_on': 2021-01-01 is more than a year after 2019-12-31; "
        "an exemption may run until 2020-12-31 at most",
        f"{path}, row 5, column 'expires_on': 2030-06-30 is more than a year after 2019-12-31; "
        "an exemption may run until 2020-12-31 at most",
    ]
    assert len(read_exemptions(path)) == 4  # without as_of there is nothing to compare with


def test_a_leap_day_as_of(tmp_path: Path) -> None:
    path = exemptions(tmp_path, "2021-02-28", "2021-03-01")
    with pytest.raises(InputError) as exc:
        read_exemptions(path, pd.Timestamp("2020-02-29", tz="UTC"))
    assert [p.row for p in exc.value.problems] == [3]


def test_read_reference_passes_as_of_to_the_exemptions(tmp_path: Path) -> None:
    config = orgfiles.write_org(
        tmp_path,
        exemptions="subject,reason,approved_by,expires_on\ngina@contoso.org,leave,HR,2021-06-30\n",
    )
    settings = load_settings(config)
    assert len(read_reference(settings).exemptions) == 1
    assert len(read_reference(settings, date(2020, 12, 31)).exemptions) == 1
    with pytest.raises(InputError) as exc:
        read_reference(settings, date(2019, 12, 31))
    assert exc.value.problems[0].message.startswith(
        "2021-06-30 is more than a year after 2019-12-31"
    )
    with pytest.raises(InputError):
        read_reference(settings, pd.Timestamp("2019-12-31T00:00:00Z"))
