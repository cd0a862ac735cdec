"""separations csv: an HR separations export → SEPARATIONS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from licensewatch import model
from licensewatch.config import SourceSettings
from licensewatch.errors import ConfigError, InputError
from licensewatch.sources import SEPARATIONS_KINDS, separations_source
from licensewatch.sources.hr.files import SeparationsCsvSource

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "separations.csv"


def settings(path: Path, **options: Any) -> SourceSettings:
    return SourceSettings("separations", "csv", {"path": str(path), **options}, path.parent)


def pull(path: Path = FIXTURE, **options: Any) -> pd.DataFrame:
    return SeparationsCsvSource(settings(path, **options)).pull().separations


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "separations.csv"
    path.write_text(text, encoding="utf-8")
    return path


def problems(exc: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def test_frame_conforms_exactly_to_the_separations_schema() -> None:
    separations = pull()
    assert list(separations.columns) == list(model.SEPARATIONS)
    assert {c: str(t) for c, t in separations.dtypes.items()} == model.SEPARATIONS
    assert isinstance(separations.index, pd.RangeIndex)


def test_rows_and_dates_at_utc_midnight() -> None:
    separations = pull()
    assert separations["employee_id"].tolist()[0] == "1003"
    assert pd.isna(separations["employee_id"][1])
    assert separations["email"][1] == "stine.former@contoso.com"
    assert pd.isna(separations["email"][2])
    assert separations["separation_date"].tolist() == [
        pd.Timestamp("2019-11-30T00:00:00Z"),
        pd.Timestamp("2019-10-01T00:00:00Z"),
        pd.Timestamp("2019-12-31T00:00:00Z"),
    ]
    assert separations["reason"][2] == "End of contract"


def test_email_only_export_is_enough(tmp_path: Path) -> None:
    path = write(tmp_path, "email,separation_date\nann@contoso.org,2019-01-31\n")
    separations = pull(path)
    assert separations["email"].tolist() == ["ann@contoso.org"]
    assert separations["employee_id"].isna().all()


def test_neither_key_column(tmp_path: Path) -> None:
    path = write(tmp_path, "name,separation_date\nAnn,2019-01-31\n")
    with pytest.raises(InputError) as exc:
        pull(path)
    assert problems(exc) == [
        f"{path}, row 1, column 'employee_id': needs at least one of the columns "
        "'employee_id', 'email'"
    ]


def test_row_problems(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "employee_id,email,name,department,separation_date,reason\n"
        ",,Ann,Legal,2019-01-31,Resignation\n"
        "E2,,Bob,Legal,,Resignation\n"
        "E3,,Cy,Legal,31/01/2019,Resignation\n",
    )
    with pytest.raises(InputError) as exc:
        pull(path)
    assert problems(exc) == [
        f"{path}, row 2, column 'employee_id': neither employee_id nor email is given; "
        "one is needed to find the account",
        f"{path}, row 3, column 'separation_date': separation_date is empty; a value is required",
        f"{path}, row 4, column 'separation_date': '31/01/2019' is not a date like 2019-12-31; "
        'it is written day-first: set date_format = "day-first" in [sources.separations]',
    ]


def test_missing_separation_date_column(tmp_path: Path) -> None:
    path = write(tmp_path, "employee_id,email\nE1,a@b.org\n")
    with pytest.raises(InputError) as exc:
        pull(path)
    assert problems(exc) == [
        f"{path}, row 1, column 'separation_date': required column 'separation_date' is missing"
    ]


def test_latin1_export_with_matching_encoding(tmp_path: Path) -> None:
    path = tmp_path / "separations.csv"
    data = "email,name,separation_date\na@b.org,José,2019-01-31\n".encode("latin-1")
    path.write_bytes(data)
    assert pull(path, encoding="latin-1")["name"].tolist() == ["José"]
    with pytest.raises(InputError) as exc:
        pull(path)
    offset = data.index(b"\xe9")
    assert problems(exc) == [
        f"{path}: is not utf-8 text (undecodable byte 0xe9 at offset {offset})"
    ]
    assert exc.value.hint is not None and "set encoding in [sources.separations]" in exc.value.hint


def test_options_and_registry() -> None:
    assert isinstance(separations_source(settings(FIXTURE)), SeparationsCsvSource)
    assert "csv" in SEPARATIONS_KINDS
    with pytest.raises(ConfigError) as exc:
        SeparationsCsvSource(settings(FIXTURE, owner_match="upn"))
    assert exc.value.message == (
        "unknown key 'owner_match' in [sources.separations] (kind 'csv'); "
        "valid keys are: kind, path, encoding, delimiter, date_format, columns"
    )
    with pytest.raises(ConfigError) as exc:
        separations_source(SourceSettings("separations", "odbc", {}, Path(".")))
    assert exc.value.message == (
        "[sources.separations] kind 'odbc' is not known; valid kinds are: csv, sql, xlsx"
    )
    SeparationsCsvSource(settings(FIXTURE)).check()
