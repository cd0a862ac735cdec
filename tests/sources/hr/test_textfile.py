"""Files as Excel and ERP systems save them: encodings, delimiters, quoted line breaks."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from licensewatch.config import SourceSettings
from licensewatch.errors import ConfigError, InputError
from licensewatch.sources.reference import read_focal_points
from licensewatch.sources.tabular.table import TableOptions, check_options, read_table
from licensewatch.sources.tabular.text import decode, sniff_delimiter

TEXT = "department;email;name\nFinance;fp@contoso.org;Zoë Müller\nLegal;fl@contoso.org;José Ñúñez\n"


def write(tmp_path: Path, data: bytes, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read(path: Path, **options: str) -> list[list[str]]:
    table = read_table(
        path, required=("department", "email"), optional=("name",), options=TableOptions(**options)
    )
    return table.astype(object).where(table.notna(), None).values.tolist()


EXPECTED = [
    ["Finance", "fp@contoso.org", "Zoë Müller"],
    ["Legal", "fl@contoso.org", "José Ñúñez"],
]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(TEXT.encode("utf-8"), id="utf-8"),
        pytest.param(codecs.BOM_UTF8 + TEXT.encode("utf-8"), id="utf-8-bom"),
        pytest.param(codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), id="utf-16-le-bom"),
        pytest.param(codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), id="utf-16-be-bom"),
        pytest.param(TEXT.encode("utf-16-le"), id="utf-16-le-no-bom"),
        pytest.param(codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le"), id="utf-32-le-bom"),
        pytest.param(TEXT.replace("\n", "\r\n").encode("utf-8"), id="crlf"),
    ],
)
def test_encodings_are_detected(tmp_path: Path, data: bytes) -> None:
    assert read(write(tmp_path, data)) == EXPECTED


def test_excel_unicode_text_is_utf16_with_tabs(tmp_path: Path) -> None:
    text = TEXT.replace(";", "\t").replace("\n", "\r\n")
    assert read(write(tmp_path, codecs.BOM_UTF16_LE + text.encode("utf-16-le"))) == EXPECTED


def test_configured_legacy_encoding_wins(tmp_path: Path) -> None:
    path = write(tmp_path, TEXT.encode("cp1252"))
    assert read(path, encoding="cp1252") == EXPECTED
    with pytest.raises(InputError) as exc:
        read(path)
    offset = TEXT.encode("cp1252").index("ë".encode("cp1252"))
    assert [str(p) for p in exc.value.problems] == [
        f"{path}: is not utf-8 text (undecodable byte 0xeb at offset {offset})"
    ]
    assert exc.value.hint == "save the file as CSV UTF-8 and run again"


def test_offset_counts_the_byte_order_mark(tmp_path: Path) -> None:
    data = codecs.BOM_UTF8 + b"department,email\nZo\xeb,a@b.org\n"
    with pytest.raises(InputError) as exc:
        read(write(tmp_path, data))
    assert exc.value.problems[0].message == "is not utf-8 text (undecodable byte 0xeb at offset 22)"
    assert data[22] == 0xEB


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_delimiter_is_sniffed_from_the_header(tmp_path: Path, sep: str) -> None:
    text = f'department{sep}email{sep}name\nFinance{sep}fp@contoso.org{sep}"Müller, Zoë; Dr"\n'
    assert read(write(tmp_path, text.encode())) == [
        ["Finance", "fp@contoso.org", "Müller, Zoë; Dr"]
    ]


def test_sniffing_ignores_delimiters_inside_quoted_headers() -> None:
    assert sniff_delimiter('"a;b;c";d,e\n1;2,3') == ","
    assert sniff_delimiter('"a,b,c";d;e,f\n') == ";"
    assert sniff_delimiter("single\nx,y,z\n") == ","
    assert sniff_delimiter('a;"b\nc";d\n') == ";"


def test_configured_delimiter_is_used(tmp_path: Path) -> None:
    path = write(tmp_path, b"department|email\nFinance|fp@contoso.org\n")
    assert read(path, delimiter="|") == [["Finance", "fp@contoso.org", None]]


def test_quoted_line_breaks_keep_spreadsheet_row_numbers(tmp_path: Path) -> None:
    text = 'department;email;name\nFinance;fp@contoso.org;"Zoë\nMüller"\n;fl@contoso.org;x\n'
    path = write(tmp_path, text.encode())
    table = read_table(path, required=("department", "email"), optional=("name",))
    assert table.index.tolist() == [2, 3]
    assert table["name"][2] == "Zoë\nMüller"
    with pytest.raises(InputError) as exc:
        read_table(path, required=("department",), nonempty=("department",))
    assert [str(p) for p in exc.value.problems] == [
        f"{path}, row 3, column 'department': department is empty; a value is required"
    ]


def test_reference_files_accept_excel_encodings_and_delimiters(tmp_path: Path) -> None:
    text = "department\temail\tname\r\nFinance\tfp@contoso.org\tZoë Müller\r\n"
    path = write(tmp_path, codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "focal_points.txt")
    focal = read_focal_points(path)
    assert focal[["department", "email", "name"]].values.tolist() == [
        ["Finance", "fp@contoso.org", "Zoë Müller"]
    ]


def test_decode_names_the_codec_and_uses_the_hint() -> None:
    with pytest.raises(InputError) as exc:
        decode(b"\xff\xfeA\x00\x00\xd8", "auto", "f.csv", "fix it")
    assert str(exc.value.problems[0]) == (
        "f.csv: is not utf-16-le text (undecodable byte 0x00 at offset 4)"
    )
    assert exc.value.hint == "fix it"


def settings(**options: object) -> SourceSettings:
    return SourceSettings("separations", "csv", {"path": "x.csv", **options}, Path("."))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"delimiter": "::"}, "[sources.separations] delimiter '::' is not a cell separator"),
        (
            {"encoding": "klingon"},
            "[sources.separations] encoding 'klingon' is not a known text encoding",
        ),
        (
            {"date_format": "dd/mm/yyyy"},
            "[sources.separations] date_format must be one of iso, day-first, month-first, "
            "not 'dd/mm/yyyy'",
        ),
    ],
)
def test_option_values_are_checked(options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        check_options(
            settings(**options),
            ("path", "encoding", "delimiter", "date_format"),
            {"encoding": "auto", "delimiter": "auto", "date_format": "iso"},
        )
    assert exc.value.message == message


@pytest.mark.parametrize(
    ("value", "expected"), [("tab", "\t"), ("\t", "\t"), (";", ";"), ("auto", "auto")]
)
def test_delimiter_names(value: str, expected: str) -> None:
    assert (
        check_options(settings(delimiter=value), ("path", "delimiter"), {})["delimiter"] == expected
    )


def test_typed_cells_become_the_text_an_export_would_hold() -> None:
    from datetime import UTC, date, datetime, timedelta, timezone
    from decimal import Decimal

    from licensewatch.sources.tabular.text import cell_text

    east = timezone(timedelta(hours=2))
    assert [
        cell_text(v)
        for v in (
            None,
            "x",
            True,
            1003,
            1003.0,
            1.5,
            float("nan"),
            Decimal("1003"),
            Decimal("189.60"),
            date(2019, 12, 31),
            datetime(2019, 12, 31),
            datetime(2019, 12, 31, 8, 30),
            datetime(2019, 12, 31, 2, 0, tzinfo=east),
            datetime(2019, 12, 31, tzinfo=UTC),
            b"caf\xc3\xa9",
        )
    ] == [
        "",
        "x",
        "true",
        "1003",
        "1003",
        "1.5",
        "",
        "1003",
        "189.60",
        "2019-12-31",
        "2019-12-31",
        "2019-12-31T08:30:00Z",
        "2019-12-31",
        "2019-12-31",
        "café",
    ]
