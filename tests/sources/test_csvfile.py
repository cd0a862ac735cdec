"""Shared CSV reading: header, cells, dates, keys, row numbers and the problem cap."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from licensewatch import model
from licensewatch.config import SourceSettings
from licensewatch.errors import ConfigError, InputError
from licensewatch.sources.tabular.table import (
    ProblemLog,
    TableOptions,
    check_options,
    natural_key,
    parse_dates,
    parse_timestamps,
    read_table,
)


def write(tmp_path: Path, text: str, name: str = "t.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def problems(exc: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def test_reads_text_cells_stripped_with_empty_as_na_and_na_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "name,code\n  NA  ,\nN/A,null\n")
    table = read_table(path, required=("name", "code"))
    assert list(table["name"]) == ["NA", "N/A"]
    assert table["code"].isna().tolist() == [True, False]
    assert table["code"][3] == "null"
    assert str(table["name"].dtype) == "string"


@pytest.mark.parametrize("bom", ["", "\ufeff"])
def test_utf8_with_or_without_bom(tmp_path: Path, bom: str) -> None:
    path = write(tmp_path, f"{bom}department,name\nFinance,Zoë Müller\n")
    table = read_table(path, required=("department", "name"))
    assert table["name"].tolist() == ["Zoë Müller"]


def test_bom_tolerated_even_when_encoding_is_plain_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffdepartment\nFinance\n")
    options = TableOptions(encoding="utf-8")
    assert read_table(path, required=("department",), options=options)["department"].tolist() == [
        "Finance"
    ]


def test_header_is_case_insensitive_and_extra_columns_are_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, " Department ,Whatever,EMAIL\nFinance,x,a@b.org\n")
    table = read_table(path, required=("department",), optional=("email", "cc"))
    assert list(table.columns) == ["department", "email", "cc"]
    assert table["cc"].isna().all() and str(table["cc"].dtype) == "string"


def test_index_is_the_spreadsheet_row_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, 'a,b\n1,x\n\n2,"two\nlines"\n,\n3,z\n')
    table = read_table(path, required=("a", "b"))
    assert table.index.tolist() == [2, 4, 6]
    assert table["a"].tolist() == ["1", "2", "3"]


def test_missing_required_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "department,name\nFinance,Ann\n")
    with pytest.raises(InputError) as exc:
        read_table(path, required=("department", "email", "language"))
    assert problems(exc) == [
        f"{path}, row 1, column 'email': required column 'email' is missing",
        f"{path}, row 1, column 'language': required column 'language' is missing",
    ]


def test_semicolon_separated_file_read_with_a_comma_delimiter_gets_a_hint(tmp_path: Path) -> None:
    path = write(tmp_path, "department;email\nFinance;a@b.org\n")
    with pytest.raises(InputError) as exc:
        read_table(path, required=("department", "email"), options=TableOptions(delimiter=","))
    assert exc.value.hint is not None and "';'-separated" in exc.value.hint


def test_any_of_needs_one_of_the_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "name\nAnn\n")
    with pytest.raises(InputError) as exc:
        read_table(path, required=("name",), optional=("a", "b"), any_of=("a", "b"))
    assert problems(exc) == [
        f"{path}, row 1, column 'a': needs at least one of the columns 'a', 'b'"
    ]


def test_repeated_column(tmp_path: Path) -> None:
    path = write(tmp_path, "email,Email\na@b.org,c@d.org\n")
    with pytest.raises(InputError) as exc:
        read_table(path, required=("email",))
    assert problems(exc) == [f"{path}, row 1, column 'email': column 'email' appears 2 times"]


def test_timestamps_iso_with_offset_z_or_naive_as_utc(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "at\n2019-12-31T08:30:00Z\n2019-12-31T10:30:00+02:00\n2019-12-31 08:30\n"
        "2019-12-31\n2019-12-31t08:30:00z\n\n",
    )
    table = read_table(path, required=("at",), timestamps=("at",))
    assert str(table["at"].dtype) == model.DATETIME
    assert table["at"].tolist()[:3] == [pd.Timestamp("2019-12-31T08:30:00Z")] * 3
    assert table["at"][5] == pd.Timestamp("2019-12-31T00:00:00Z")
    assert table["at"][6] == pd.Timestamp("2019-12-31T08:30:00Z")


def test_unparseable_timestamps_and_words_never_read_the_clock(tmp_path: Path) -> None:
    path = write(tmp_path, "name,at\na,31/12/2019\nb,now\nc,today\nd,2019-13-01T00:00:00Z\n")
    with pytest.raises(InputError) as exc:
        read_table(path, required=("name", "at"), timestamps=("at",))
    expected = "is not a date-time like 2019-12-31T08:30:00Z"
    assert problems(exc) == [
        f"{path}, row 2, column 'at': '31/12/2019' {expected}",
        f"{path}, row 3, column 'at': 'now' {expected}",
        f"{path}, row 4, column 'at': 'today' {expected}",
        f"{path}, row 5, column 'at': '2019-13-01T00:00:00Z' {expected}",
    ]


def test_dates_become_utc_midnight(tmp_path: Path) -> None:
    path = write(tmp_path, "day\n2019-12-31\n2019-12-31 00:00:00\n")
    table = read_table(path, required=("day",), dates=("day",))
    assert table["day"].tolist() == [pd.Timestamp("2019-12-31T00:00:00Z")] * 2


def test_bad_dates(tmp_path: Path) -> None:
    path = write(tmp_path, "day\n2019-02-30\n2019-12-31T10:00:00Z\n31.12.2019\n")
    with pytest.raises(InputError) as exc:
        read_table(path, required=("day",), dates=("day",))
    assert problems(exc) == [
        f"{path}, row 2, column 'day': '2019-02-30' is not a date like 2019-12-31",
        f"{path}, row 3, column 'day': '2019-12-31T10:00:00Z' is not a date like 2019-12-31",
        f"{path}, row 4, column 'day': '31.12.2019' is not a date like 2019-12-31",
    ]


def test_nonempty_and_duplicate_keys_case_folded(tmp_path: Path) -> None:
    path = write(tmp_path, "key,v\nAbc,1\n,2\nx,3\n ABC ,4\nabc,5\n")
    with pytest.raises(InputError) as exc:
        read_table(path, required=("key", "v"), nonempty=("key",), unique="key")
    assert problems(exc) == [
        f"{path}, row 3, column 'key': key is empty; a value is required",
        f"{path}, row 5, column 'key': duplicate key 'ABC': also in row 2",
        f"{path}, row 6, column 'key': duplicate key 'abc': also in row 2",
    ]


def test_problems_are_capped_at_fifty(tmp_path: Path) -> None:
    path = write(tmp_path, "key\n" + "\n".join(["x"] * 121) + "\n")
    with pytest.raises(InputError) as exc:
        read_table(path, required=("key",), unique="key")
    listed = problems(exc)
    assert len(listed) == 50
    assert listed[0] == f"{path}, row 3, column 'key': duplicate key 'x': also in row 2"
    assert listed[48].startswith(f"{path}, row 51,")
    assert listed[49] == f"{path}: 120 problems in all; the first 49 are listed"


def test_problems_given_are_collected_not_raised(tmp_path: Path) -> None:
    path = write(tmp_path, "key\n\n")
    log = ProblemLog("label.csv")
    read_table(path, required=("key",), nonempty=("key",), problems=log)
    assert len(log) == 0
    path = write(tmp_path, "key,v\n,1\n")
    table = read_table(path, required=("key", "v"), nonempty=("key",), problems=log)
    assert len(table) == 1 and len(log) == 1
    with pytest.raises(InputError) as exc:
        log.raise_if_any()
    assert problems(exc) == ["label.csv, row 2, column 'key': key is empty; a value is required"]


def test_ragged_row_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b\n1,2\n1,2,3\n")
    with pytest.raises(InputError) as exc:
        read_table(path, required=("a", "b"))
    assert problems(exc) == [f"{path}, row 3: has 3 cells but the header has 2 columns"]


def test_missing_empty_and_undecodable_files(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        read_table(tmp_path / "nope.csv", required=("a", "b"))
    assert problems(exc) == [
        f"{tmp_path / 'nope.csv'}: the file does not exist; "
        "expected a CSV file with the header row: a, b"
    ]
    with pytest.raises(InputError) as exc:
        read_table(write(tmp_path, ""), required=("a",))
    assert problems(exc) == [
        f"{tmp_path / 't.csv'}: the file is empty; expected a CSV file with the header row: a"
    ]
    path = write(tmp_path, "a\nZo\xeb\n", encoding="latin-1")
    with pytest.raises(InputError) as exc:
        read_table(path, required=("a",))
    assert problems(exc) == [f"{path}: is not utf-8 text (undecodable byte 0xeb at offset 4)"]


def test_label_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        read_table(write(tmp_path, "a\n"), required=("b",), label="phones export")
    assert problems(exc) == ["phones export, row 1, column 'b': required column 'b' is missing"]


def test_parse_helpers_report_bad_values_only() -> None:
    values = pd.Series(["2019-12-31T00:00:00Z", None, "", "bad"], dtype="string")
    parsed, bad = parse_timestamps(values)
    assert bad.tolist() == [False, False, False, True]
    assert parsed.isna().tolist() == [False, True, True, True]
    parsed, bad = parse_dates(pd.Series(["2019-12-31", "x"], dtype="string"))
    assert bad.tolist() == [False, True]


def test_natural_key_orders_numbers_by_value() -> None:
    names = ["users_10.json", "users_2.json", "Users_1.json"]
    assert sorted(names, key=natural_key) == ["Users_1.json", "users_2.json", "users_10.json"]


def test_check_options() -> None:
    s = SourceSettings("phones", "csv", {"path": "p.csv"}, Path("."))
    assert check_options(s, ("path", "encoding"), {"encoding": "utf-8-sig"}) == {
        "path": "p.csv",
        "encoding": "utf-8-sig",
    }
    with pytest.raises(ConfigError) as exc:
        check_options(s, ("path", "sheet"), {})
    assert exc.value.message == "[sources.phones] (kind 'csv') needs 'sheet'"
    bad = SourceSettings("phones", "csv", {"path": "p.csv", "encoding": "klingon"}, Path("."))
    with pytest.raises(ConfigError) as exc:
        check_options(bad, ("path", "encoding"), {})
    assert exc.value.message == "[sources.phones] encoding 'klingon' is not a known text encoding"
    table = SourceSettings("phones", "csv", {"path": "p.csv", "columns": {"A": "b"}}, Path("."))
    with pytest.raises(ConfigError) as exc:
        check_options(table, ("path",), {})
    assert exc.value.message.startswith("unknown key 'columns' in [sources.phones]")
    assert check_options(table, ("path",), {}, other=("columns",)) == {"path": "p.csv"}
    wrong_type = SourceSettings("phones", "csv", {"path": 3}, Path("."))
    with pytest.raises(ConfigError) as exc:
        check_options(wrong_type, ("path",), {})
    assert exc.value.message == "[sources.phones] path must be a non-empty string, not 3"


def test_sixty_thousand_rows_read_whole(tmp_path: Path) -> None:
    rows = "".join(
        f"SEP{i:012d},Desk {i},2019-12-{1 + i % 28:02d}T07:00:00Z\n" for i in range(60_000)
    )
    path = write(tmp_path, "device_name,description,at\n" + rows)
    table = read_table(
        path,
        required=("device_name", "description", "at"),
        timestamps=("at",),
        unique="device_name",
    )
    # Speed is measured by benchmarks/, never asserted here.
    assert len(table) == 60_000 and table["at"].notna().all()
