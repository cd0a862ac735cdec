"""HR files are read within documented bounds, and a damaged workbook is an input error.

Bounds (``licensewatch.sources.tabular.text``): ``MAX_ROWS`` rows per file or
sheet (Excel's 1,048,576), ``MAX_LINE_CHARS`` characters per CSV line (1 Mi),
``MAX_CELL_CHARS`` characters per cell (Excel's 32,767).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from openpyxl import Workbook

from licensewatch.cli.parser import main
from licensewatch.config import SourceSettings
from licensewatch.errors import InputError
from licensewatch.sources.hr.files import SeparationsCsvSource, SeparationsXlsxSource
from licensewatch.sources.tabular import text as textfile
from licensewatch.sources.tabular.text import MAX_CELL_CHARS, MAX_LINE_CHARS, MAX_ROWS, load_grid
from tests import orgfiles

HEADER = ["employee_id", "email", "name", "department", "separation_date", "reason"]
LEAVERS = [
    ["E4", "dave@contoso.org", "Dave Osei", "Legal", "2019-11-30", "Resignation"],
    ["E99", "zed@contoso.org", "Zed Gone", "Legal", "2019-10-01", "Retirement"],
]


def settings(path: Path) -> SourceSettings:
    return SourceSettings("separations", path.suffix[1:], {"path": str(path)}, path.parent)


def pull(path: Path) -> pd.DataFrame:
    kind = SeparationsXlsxSource if path.suffix == ".xlsx" else SeparationsCsvSource
    return kind(settings(path)).pull().separations


def problems(exc: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def workbook(path: Path, rows: list[list[Any]]) -> Path:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def rewrite(path: Path, edit: Any) -> None:
    """Rewrite the workbook's parts: ``edit(name, data)`` → new data, or None to leave it out."""
    with zipfile.ZipFile(path) as old:
        parts = {info.filename: old.read(info) for info in old.infolist()}
    added = edit("", b"")  # a chance to add parts: {name: data}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for name, data in {**parts, **(added or {})}.items():
            if (changed := edit(name, data)) is not None:
                new.writestr(name, changed)


SST = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SST_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"


def shared_strings(path: Path, *, drop_last: bool = False, table: str | None = None) -> None:
    """Store the sheet's text as Excel does, in a shared-strings table (openpyxl writes inline).

    ``drop_last`` leaves the last string out of the table, so that the cell using it points
    to a string that is not there; ``table`` replaces the table's XML altogether.
    """
    strings: list[str] = []

    def shared(found: re.Match[str]) -> str:
        strings.append(found[2])
        return f'<c r="{found[1]}" t="s"><v>{len(strings) - 1}</v></c>'

    def edit(name: str, data: bytes) -> bytes | None:
        if name == "xl/worksheets/sheet1.xml":
            text = data.decode("utf-8")
            return re.sub(
                r'<c r="([A-Z]+\d+)" t="inlineStr"><is><t>([^<]*)</t></is></c>', shared, text
            ).encode("utf-8")
        if name == "xl/_rels/workbook.xml.rels":
            rel = f'<Relationship Type="{SST_REL}" Target="sharedStrings.xml" Id="rId99"/>'
            return data.replace(b"</Relationships>", rel.encode() + b"</Relationships>")
        if name == "[Content_Types].xml":
            over = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SST_TYPE}"/>'
            return data.replace(b"</Types>", over.encode() + b"</Types>")
        return data

    with zipfile.ZipFile(path) as old:
        sheet = edit("xl/worksheets/sheet1.xml", old.read("xl/worksheets/sheet1.xml"))
    kept = strings[:-1] if drop_last else strings
    items = "".join(f"<si><t>{text}</t></si>" for text in kept)
    xml = table or f'<sst xmlns="{SST}" count="{len(kept)}" uniqueCount="{len(kept)}">{items}</sst>'

    def edit_all(name: str, data: bytes) -> Any:
        if name == "":
            return {"xl/sharedStrings.xml": xml.encode("utf-8")}
        if name == "xl/worksheets/sheet1.xml":
            return sheet
        return edit(name, data) if name != "xl/sharedStrings.xml" else data

    rewrite(path, edit_all)


def drop_last_shared_string(path: Path) -> None:
    """Damage the workbook: its last shared string goes, the cell using it points nowhere."""
    shared_strings(path, drop_last=True)


# --- a damaged workbook ------------------------------------------------------------------------


def test_a_cell_pointing_to_a_missing_shared_string_names_its_row_and_column(
    tmp_path: Path,
) -> None:
    # "Retirement" is the last new string of the sheet: row 3, column reason.
    path = workbook(tmp_path / "hr.xlsx", [HEADER, *LEAVERS])
    drop_last_shared_string(path)
    with pytest.raises(InputError) as exc:
        pull(path)
    assert problems(exc) == [
        f"{path}, row 3, column 'reason': cannot be read: the workbook is damaged "
        "(IndexError: list index out of range)"
    ]


def test_a_damaged_workbook_stops_the_run_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = orgfiles.CONFIG.replace(
        'kind = "csv"\npath = "exports/separations.csv"',
        'kind = "xlsx"\npath = "exports/separations.xlsx"',
    )
    config = orgfiles.write_org(tmp_path / "org", config=text)
    path = workbook(config.parent / "exports" / "separations.xlsx", [HEADER, *LEAVERS])
    drop_last_shared_string(path)
    assert main(["run", "--config", str(config), "--as-of", orgfiles.AS_OF]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err[err.index("licensewatch: error:") :].splitlines()
    assert lines == [
        f"licensewatch: error: {path}, row 3, column 'reason': cannot be read: the workbook is "
        "damaged (IndexError: list index out of range) (fix the file and run again; nothing "
        "was written)"
    ]
    assert not (config.parent / "licensewatch.db").exists()
    assert not (config.parent / "reports").exists()


def test_a_workbook_whose_parts_cannot_be_parsed(tmp_path: Path) -> None:
    path = workbook(tmp_path / "hr.xlsx", [HEADER, *LEAVERS])
    shared_strings(path, table="<sst")
    with pytest.raises(InputError) as exc:
        pull(path)
    assert problems(exc)[0].startswith(f"{path}: is a damaged workbook (")


# --- rows --------------------------------------------------------------------------------------


def test_a_csv_file_past_the_row_bound_is_refused_while_reading(tmp_path: Path) -> None:
    path = tmp_path / "hr.csv"
    path.write_text("employee_id,separation_date\n" + "E1,\n" * MAX_ROWS, encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_grid(path, label=str(path), expected="")
    assert problems(exc) == [
        f"{path}, row {MAX_ROWS + 1}: has more than 1,048,576 rows, the most one file may have"
    ]


def test_rows_are_counted_as_a_spreadsheet_counts_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(textfile, "MAX_ROWS", 4)
    path = tmp_path / "hr.csv"
    # Header and three leavers, one with a reason on three lines: four rows, six lines.
    rows = 'employee_id,separation_date,reason\nE1,2019-01-01,"a\nb\nc"\nE2,2019-01-01,x\n'
    path.write_text(rows + "E3,2019-01-01,y", encoding="utf-8")
    assert pull(path)["employee_id"].tolist() == ["E1", "E2", "E3"]
    path.write_text(rows + "E3,2019-01-01,y\nE4,2019-01-01,z\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        pull(path)
    assert problems(exc) == [f"{path}, row 5: has more than 4 rows, the most one file may have"]


def test_a_sheet_past_the_row_bound_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(textfile, "MAX_ROWS", 3)
    path = workbook(tmp_path / "hr.xlsx", [HEADER, *LEAVERS])
    assert len(pull(path)) == 2
    path = workbook(tmp_path / "hr.xlsx", [HEADER, *LEAVERS, LEAVERS[0]])
    with pytest.raises(InputError) as exc:
        pull(path)
    assert problems(exc) == [f"{path}, row 4: has more than 3 rows, the most one file may have"]


def test_a_sheet_claiming_a_row_past_the_bound_is_refused(tmp_path: Path) -> None:
    # One leaver written at row 1,048,577, beyond what Excel itself can hold.
    path = workbook(tmp_path / "hr.xlsx", [HEADER, LEAVERS[0]])
    far = str(MAX_ROWS + 1).encode()

    def edit(name: str, data: bytes) -> bytes:
        if name != "xl/worksheets/sheet1.xml":
            return data
        data = data.replace(b'<row r="2"', b'<row r="' + far + b'"')
        return re.sub(rb'r="([A-Z]+)2"', lambda m: b'r="' + m[1] + far + b'"', data)

    rewrite(path, edit)
    with pytest.raises(InputError) as exc:
        pull(path)
    assert problems(exc) == [
        f"{path}, row {MAX_ROWS + 1}: has more than 1,048,576 rows, the most one file may have"
    ]


# --- lines and cells ---------------------------------------------------------------------------


def test_a_line_past_the_bound_is_refused_with_its_row(tmp_path: Path) -> None:
    path = tmp_path / "hr.csv"
    good = 'employee_id,separation_date,reason\nE1,2019-01-01,"two\nlines"\n'
    path.write_text(good + "E2,2019-01-01," + "x" * (2 * MAX_LINE_CHARS) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        pull(path)
    assert problems(exc) == [
        f"{path}, row 3: has a line longer than 1,048,576 characters, the most one line may "
        "hold: is it a CSV file?"
    ]
    # A lone-CR file (an old Mac export) is split into its lines too.
    path.write_text(good.replace("\n", "\r") + "E2,2019-01-01,x\r" * 100_000, encoding="utf-8")
    assert len(pull(path)) == 100_001


def test_a_cell_past_excels_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hr.csv"
    fits, over = "x" * MAX_CELL_CHARS, "y" * (MAX_CELL_CHARS + 1)
    path.write_text(f"employee_id,separation_date,reason\nE1,2019-01-01,{fits}\n", encoding="utf-8")
    assert pull(path)["reason"].tolist() == [fits]
    path.write_text(f"employee_id,separation_date,reason\nE1,2019-01-01,{over}\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        pull(path)
    assert problems(exc) == [
        f"{path}, row 2, column 'reason': the cell holds 32,768 characters, more than 32,767 "
        "(the most one cell may hold)"
    ]
    # (openpyxl itself never hands over more than 32,767 characters of a workbook's cell.)


# --- reading in pieces keeps what reading at once gave -----------------------------------------


def test_undecodable_byte_offsets_and_breaks_across_pieces(tmp_path: Path) -> None:
    path = tmp_path / "hr.csv"
    lines = b"employee_id,name\r\n"
    lines += b"E1," + b"z" * ((1 << 20) - len(lines) - 4) + b"\r\n"
    assert lines[(1 << 20) - 1 : (1 << 20) + 1] == b"\r\n"  # CR LF split between two pieces
    path.write_bytes(lines + b"E2,Zed\r\n")
    grid = load_grid(path, label=str(path), expected="")
    assert grid.cells.index.tolist() == [2, 3]
    bad = lines + b"E2,\xff\r\n"
    path.write_bytes(bad)
    with pytest.raises(InputError) as exc:
        load_grid(path, label=str(path), expected="")
    offset = len(lines) + 3
    assert problems(exc) == [
        f"{path}: is not utf-8 text (undecodable byte 0xff at offset {offset})"
    ]
    # A multi-byte character split between two pieces decodes whole.
    text = "employee_id,name\n" + "E1," + "é" * 600_000 + "\n"
    path.write_text(text, encoding="utf-16")
    assert load_grid(path, label=str(path), expected="").cells.iloc[0, 1] == "é" * 600_000
