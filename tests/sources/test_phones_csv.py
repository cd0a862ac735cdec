"""phones csv: a phone inventory export → PHONES."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from licensewatch import model
from licensewatch.config import SourceSettings
from licensewatch.errors import ConfigError, InputError
from licensewatch.sources import PHONES_KINDS, phones_source
from licensewatch.sources.cucm.inventory_csv import PhonesCsvSource

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "phones.csv"
HEADER = "device_name,model,owner_user_id,registration_status,status_changed_at"


def settings(path: Path, **options: Any) -> SourceSettings:
    return SourceSettings("phones", "csv", {"path": str(path), **options}, path.parent)


def pull(path: Path = FIXTURE, **options: Any) -> pd.DataFrame:
    return PhonesCsvSource(settings(path, **options)).pull().phones


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "phones.csv"
    path.write_text(text, encoding="utf-8")
    return path


def problems(exc: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def test_frame_conforms_exactly_to_the_phones_schema() -> None:
    phones = pull()
    assert list(phones.columns) == list(model.PHONES)
    assert {c: str(t) for c, t in phones.dtypes.items()} == model.PHONES
    assert isinstance(phones.index, pd.RangeIndex)
    assert len(phones) == 7


def test_vendor_statuses_map_onto_canonical_values() -> None:
    assert pull()["registration_status"].tolist() == [
        "registered",
        "unregistered",  # RisPort "UnRegistered"
        "unregistered",  # AXL "Unregistered"
        "partially_registered",
        "rejected",
        "unknown",  # RisPort "None"
        "unknown",
    ]


def test_cells_owner_and_na_text() -> None:
    phones = pull().set_index("device_name")
    assert phones["owner_user_id"].isna().tolist() == [
        False,
        False,
        True,
        False,
        False,
        True,
        False,
    ]
    assert phones.loc["SEP0A1B2C3D4E07", "owner_user_id"] == "NA"  # a user called NA
    assert phones.loc["SEP0A1B2C3D4E07", "description"] == "NA"
    assert phones.loc["SEP0A1B2C3D4E01", "directory_number"] == "+41227910001"
    assert phones.loc["SEP0A1B2C3D4E03", "status_changed_at"] == pd.Timestamp(
        "2019-03-01T08:30:00Z"
    )
    assert phones.loc["SEP0A1B2C3D4E04", "status_changed_at"] == pd.Timestamp(
        "2019-12-01T08:00:00Z"
    )


def test_last_seen_at_rule() -> None:
    phones = pull().set_index("device_name")["last_seen_at"]
    # Registered or partially registered: live now, nothing earlier to report.
    assert pd.isna(phones["SEP0A1B2C3D4E01"]) and pd.isna(phones["SEP0A1B2C3D4E04"])
    # Not registered: left the registered state when the status changed.
    assert phones["SEP0A1B2C3D4E02"] == pd.Timestamp("2019-06-01T18:00:00Z")
    assert phones["SEP0A1B2C3D4E05"] == pd.Timestamp("2019-11-15T12:00:00Z")
    assert phones["SEP0A1B2C3D4E06"] == pd.Timestamp("2019-10-01T00:00:00Z")
    # An exported last_seen_at wins.
    assert phones["SEP0A1B2C3D4E03"] == pd.Timestamp("2019-02-28T17:00:00Z")
    # Unknown with no dates at all stays unknown.
    assert pd.isna(phones["SEP0A1B2C3D4E07"])


def test_without_last_seen_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"{HEADER}\nSEP1,Cisco 8845,ann,Registered,2019-12-30T07:00:00Z\n"
        "SEP2,Cisco 8845,bob,UnRegistered,2019-12-01T00:00:00Z\n",
    )
    phones = pull(path)
    assert pd.isna(phones["last_seen_at"][0])
    assert phones["last_seen_at"][1] == pd.Timestamp("2019-12-01T00:00:00Z")
    assert phones["description"].isna().all() and phones["device_pool"].isna().all()


def test_unknown_status_names_the_valid_ones(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\nSEP1,Cisco 8845,ann,Offline,2019-12-30T07:00:00Z\n")
    with pytest.raises(InputError) as exc:
        pull(path)
    assert problems(exc) == [
        f"{path}, row 2, column 'registration_status': 'Offline' is not a registration "
        "status; valid: Registered, UnRegistered, Rejected, PartiallyRegistered, Unknown, None"
    ]


def test_duplicate_device_name_names_both_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"{HEADER}\nSEP1,Cisco 8845,ann,Registered,2019-12-30T07:00:00Z\n"
        "SEP2,Cisco 8845,bob,Registered,2019-12-30T07:00:00Z\n"
        "sep1,Cisco 7841,,Unregistered,2019-12-01T00:00:00Z\n",
    )
    with pytest.raises(InputError) as exc:
        pull(path)
    assert problems(exc) == [
        f"{path}, row 4, column 'device_name': duplicate device_name 'sep1': also in row 2"
    ]


def test_every_problem_of_the_file_is_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"{HEADER}\n,Cisco 8845,ann,Registered,2019-12-30T07:00:00Z\n"
        "SEP2,Cisco 8845,bob,,2019-12-30\n"
        "SEP3,Cisco 8845,cy,Registered,30/12/2019\n",
    )
    with pytest.raises(InputError) as exc:
        pull(path)
    assert problems(exc) == [
        f"{path}, row 2, column 'device_name': device_name is empty; a value is required",
        f"{path}, row 3, column 'registration_status': registration_status is empty; "
        "a value is required",
        f"{path}, row 4, column 'status_changed_at': '30/12/2019' is not a date-time like "
        '2019-12-31T08:30:00Z; it is written day-first: set date_format = "day-first" in '
        "[sources.phones]",
    ]


def test_missing_required_column(tmp_path: Path) -> None:
    path = write(tmp_path, "device_name,model,registration_status,status_changed_at\n")
    with pytest.raises(InputError) as exc:
        pull(path)
    assert problems(exc) == [
        f"{path}, row 1, column 'owner_user_id': required column 'owner_user_id' is missing"
    ]


def test_check_validates_the_file(tmp_path: Path) -> None:
    PhonesCsvSource(settings(FIXTURE)).check()
    with pytest.raises(InputError):
        PhonesCsvSource(settings(tmp_path / "nope.csv")).check()


def test_options_defaults_and_validation() -> None:
    source = PhonesCsvSource(settings(FIXTURE))
    assert (source.owner_match, source.options.encoding, source.options.delimiter) == (
        "upn",
        "auto",
        "auto",
    )
    assert (
        PhonesCsvSource(settings(FIXTURE, owner_match="employee_id")).owner_match == "employee_id"
    )
    with pytest.raises(ConfigError) as exc:
        PhonesCsvSource(settings(FIXTURE, owner_match="samaccountname"))
    assert exc.value.message == (
        "[sources.phones] owner_match must be one of upn, upn_local_part, mail, employee_id, "
        "not 'samaccountname'"
    )
    with pytest.raises(ConfigError) as exc:
        PhonesCsvSource(settings(FIXTURE, sheet="Phones"))
    assert exc.value.message == (
        "unknown key 'sheet' in [sources.phones] (kind 'csv'); "
        "valid keys are: kind, path, owner_match, encoding, delimiter, date_format, columns"
    )
    with pytest.raises(ConfigError) as exc:
        PhonesCsvSource(SourceSettings("phones", "csv", {}, Path(".")))
    assert "[sources.phones]" in exc.value.message and "'path'" in exc.value.message


def test_registry() -> None:
    assert isinstance(phones_source(settings(FIXTURE)), PhonesCsvSource)
    assert "csv" in PHONES_KINDS
    with pytest.raises(ConfigError) as exc:
        phones_source(SourceSettings("phones", "axl", {}, Path(".")))
    assert exc.value.message.startswith(
        "[sources.phones] kind 'axl' is not known; valid kinds are:"
    )
    assert "csv" in exc.value.message


def test_excel_export_with_renamed_headers_and_day_first_times(tmp_path: Path) -> None:
    text = (
        "Device Name\tModel\tOwner\tStatus\tChanged\r\n"
        "SEP1\tCisco 8845\tann\tUnRegistered\t31/12/2019 08:30\r\n"
    )
    path = tmp_path / "phones.txt"
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    columns = {
        "Device Name": "device_name",
        "Model": "model",
        "Owner": "owner_user_id",
        "Status": "registration_status",
        "Changed": "status_changed_at",
    }
    phones = pull(path, columns=columns, date_format="day-first")
    assert phones["device_name"].tolist() == ["SEP1"]
    assert phones["registration_status"].tolist() == ["unregistered"]
    assert phones["status_changed_at"].tolist() == [pd.Timestamp("2019-12-31T08:30:00Z")]
    with pytest.raises(InputError) as exc:
        pull(path, columns=columns)
    assert problems(exc) == [
        f"{path}, row 2, column 'Changed': '31/12/2019 08:30' is not a date-time like "
        '2019-12-31T08:30:00Z; it is written day-first: set date_format = "day-first" in '
        "[sources.phones]"
    ]
