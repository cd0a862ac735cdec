"""separations csv and xlsx: real HR extracts (ERP encodings, renamed headers, Excel dates)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from openpyxl import Workbook

from licensewatch import model
from licensewatch.config import SourceSettings
from licensewatch.errors import ConfigError, InputError
from licensewatch.sources import SEPARATIONS_KINDS, separations_source
from licensewatch.sources.hr.files import SeparationsCsvSource, SeparationsXlsxSource

COLUMNS = {
    "Index Number": "employee_id",
    "E-mail": "email",
    "Nom": "name",
    "Org Unit": "department",
    "Separation Date": "separation_date",
    "Motif": "reason",
}
ERP = (
    "Index Number;Nom;Org Unit;Separation Date;Motif;E-mail\r\n"
    "1003;Zoë Müller;Finance;03/04/2019;Démission;ZM@contoso.org\r\n"
    '1004;"Ñúñez; José";Legal;31/12/2019;"Fin de\r\ncontrat";\r\n'
)


def settings(kind: str, path: Path, **options: Any) -> SourceSettings:
    return SourceSettings("separations", kind, {"path": str(path), **options}, path.parent)


def pull_csv(path: Path, **options: Any) -> pd.DataFrame:
    return SeparationsCsvSource(settings("csv", path, **options)).pull().separations


def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in row.items() if not pd.isna(v)}
        for row in frame.astype(object).to_dict("records")
    ]


def problems(exc: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_erp_export_cp1252_semicolons_day_first_renamed_headers(tmp_path: Path) -> None:
    path = tmp_path / "leavers.csv"
    path.write_bytes(ERP.encode("cp1252"))
    frame = pull_csv(path, encoding="cp1252", date_format="day-first", columns=COLUMNS)
    assert {c: str(t) for c, t in frame.dtypes.items()} == model.SEPARATIONS
    assert rows(frame) == [
        {
            "employee_id": "1003",
            "email": "ZM@contoso.org",
            "name": "Zoë Müller",
            "department": "Finance",
            "separation_date": day("2019-04-03"),
            "reason": "Démission",
        },
        {
            "employee_id": "1004",
            "name": "Ñúñez; José",
            "department": "Legal",
            "separation_date": day("2019-12-31"),
            "reason": "Fin de\r\ncontrat",
        },
    ]


def test_renamed_headers_are_named_in_messages(tmp_path: Path) -> None:
    path = tmp_path / "leavers.csv"
    path.write_text(
        "Index Number,Separation Date\n1003,2019-13-01\n,2019-01-31\n1005,\n", encoding="utf-8"
    )
    with pytest.raises(InputError) as exc:
        pull_csv(path, columns=COLUMNS)
    assert problems(exc) == [
        f"{path}, row 2, column 'Separation Date': '2019-13-01' is not a date like 2019-12-31",
        f"{path}, row 3, column 'Index Number': neither employee_id nor email is given; one is "
        "needed to find the account",
        f"{path}, row 4, column 'Separation Date': Separation Date is empty; a value is required",
    ]
    path.write_text("Index Number,Date\n1003,2019-01-31\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        pull_csv(path, columns=COLUMNS)
    assert problems(exc) == [
        f"{path}, row 1, column 'Separation Date': required column 'Separation Date' is missing "
        "([sources.separations] columns reads it as 'separation_date')"
    ]


def test_rehire_flag_and_hire_records(tmp_path: Path) -> None:
    path = tmp_path / "leavers.csv"
    path.write_text(
        "employee_id,separation_date,hired_on,rehire\n"
        "E1,2019-03-31,,Y\n"
        "E2,2019-03-31,,no\n"
        "E3,,2019-06-01,\n"
        "E4,2019-03-31,2019-09-01,\n"
        "E5,2018-03-31,2019-02-01,yes\n",
        encoding="utf-8",
    )
    frame = pull_csv(path)
    assert frame["hired_on"].tolist() == [
        day("2019-03-31"),  # flagged: re-hired (at the latest) on the day they left
        pd.NaT,
        day("2019-06-01"),
        day("2019-09-01"),
        day("2019-02-01"),  # the flag never moves a known hire date earlier or later
    ]
    assert frame["separation_date"].isna().tolist() == [False, False, True, False, False]


def test_bad_rehire_flag_and_row_with_neither_date(tmp_path: Path) -> None:
    path = tmp_path / "leavers.csv"
    path.write_text(
        "employee_id,separation_date,hired_on,rehire\nE1,2019-03-31,,maybe\nE2,,,\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as exc:
        pull_csv(path)
    assert problems(exc) == [
        f"{path}, row 2, column 'rehire': 'maybe' is not yes or no",
        f"{path}, row 3, column 'separation_date': separation_date is empty; a value is required",
    ]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (
            {"Index Number": "staff_id"},
            "[sources.separations] columns maps 'Index Number' to 'staff_id', which is not a "
            "column of separations; valid names are: separation_date, employee_id, email, name, "
            "department, reason, hired_on, rehire",
        ),
        (
            {"Index Number": "employee_id", "Staff": "EMPLOYEE_ID"},
            "[sources.separations] columns maps two headers to 'employee_id'",
        ),
        ("Index Number", "[sources.separations] columns must be a table"),
    ],
)
def test_bad_columns_table(tmp_path: Path, columns: object, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        SeparationsCsvSource(settings("csv", tmp_path / "x.csv", columns=columns))
    assert exc.value.message == message


def workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    book = Workbook()
    book.remove(book.active)
    for name, table in sheets.items():
        sheet = book.create_sheet(name)
        for row in table:
            sheet.append(row)
    book.save(path)
    return path


HR_SHEET = [
    ["Index Number", "E-mail", "Separation Date", "Org Unit", "Nom"],
    [1003, "zm@contoso.org", datetime(2019, 4, 3), "Finance", "Zoë"],
    [1004.0, None, "31/12/2019", "Legal", "José"],
    [],
    ["E77", "x@contoso.org", date(2019, 1, 31), None, None],
]


def pull_xlsx(path: Path, **options: Any) -> pd.DataFrame:
    return SeparationsXlsxSource(settings("xlsx", path, **options)).pull().separations


def test_xlsx_excel_dates_numbers_and_text_dates(tmp_path: Path) -> None:
    path = workbook(tmp_path / "hr.xlsx", {"Notes": [["nothing here"]], "Leavers": HR_SHEET})
    frame = pull_xlsx(path, sheet="Leavers", date_format="day-first", columns=COLUMNS)
    assert {c: str(t) for c, t in frame.dtypes.items()} == model.SEPARATIONS
    assert frame["employee_id"].tolist() == ["1003", "1004", "E77"]
    assert frame["separation_date"].tolist() == [
        day("2019-04-03"),
        day("2019-12-31"),
        day("2019-01-31"),
    ]
    assert frame["name"].tolist()[:2] == ["Zoë", "José"]


def test_xlsx_problems_name_the_sheet_row_and_renamed_column(tmp_path: Path) -> None:
    path = workbook(tmp_path / "hr.xlsx", {"Leavers": HR_SHEET})
    with pytest.raises(InputError) as exc:
        pull_xlsx(path, sheet="Leavers", columns=COLUMNS)
    assert problems(exc) == [
        f"{path}, sheet 'Leavers', row 3, column 'Separation Date': '31/12/2019' is not a date "
        'like 2019-12-31; it is written day-first: set date_format = "day-first" in '
        "[sources.separations]"
    ]


def test_xlsx_first_sheet_by_default_and_datetime_with_time_is_not_a_date(tmp_path: Path) -> None:
    sheet = [["employee_id", "separation_date"], ["E1", datetime(2019, 4, 3, 17, 30)]]
    path = workbook(tmp_path / "hr.xlsx", {"First": sheet, "Second": [["x"]]})
    with pytest.raises(InputError) as exc:
        pull_xlsx(path)
    assert problems(exc) == [
        f"{path}, row 2, column 'separation_date': '2019-04-03T17:30:00Z' is not a date like "
        "2019-12-31"
    ]


def test_xlsx_missing_sheet_bad_workbook_missing_file(tmp_path: Path) -> None:
    path = workbook(tmp_path / "hr.xlsx", {"Leavers": HR_SHEET, "Other": [["a"]]})
    with pytest.raises(InputError) as exc:
        pull_xlsx(path, sheet="Separations")
    assert problems(exc) == [
        f"{path}, sheet 'Separations': the workbook has no sheet 'Separations'; its sheets: "
        "Leavers, Other"
    ]
    bad = tmp_path / "bad.xlsx"
    bad.write_text("employee_id,separation_date\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        pull_xlsx(bad)
    assert problems(exc)[0].startswith(f"{bad}: is not an Excel workbook (.xlsx); expected a sheet")
    with pytest.raises(InputError) as exc:
        pull_xlsx(tmp_path / "nope.xlsx")
    assert problems(exc) == [
        f'[sources.separations] path = "{tmp_path / "nope.xlsx"}": no such file; expected a '
        "workbook with the header row: employee_id, email, name, department, separation_date, "
        "reason (optional: hired_on, rehire)"
    ]
    empty = workbook(tmp_path / "empty.xlsx", {"Leavers": []})
    with pytest.raises(InputError) as exc:
        pull_xlsx(empty)
    assert problems(exc)[0].startswith(f"{empty}: the sheet is empty")


def test_registry_and_options() -> None:
    assert sorted(SEPARATIONS_KINDS) == ["csv", "sql", "xlsx"]
    here = Path("hr.xlsx")
    assert isinstance(separations_source(settings("xlsx", here)), SeparationsXlsxSource)
    with pytest.raises(ConfigError) as exc:
        SeparationsXlsxSource(settings("xlsx", here, encoding="cp1252"))
    assert exc.value.message == (
        "unknown key 'encoding' in [sources.separations] (kind 'xlsx'); "
        "valid keys are: kind, path, sheet, date_format, columns"
    )
