"""Data rows written as XML (reports.sheet_rows) against what XlsxWriter itself writes."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from licensewatch.reports import sheet_rows
from licensewatch.reports.sheet_rows import Rows, blank_cell, number_cell, splice_bytes, text_cell
from licensewatch.reports.sheets import COUNT, TEXT, Book, Column, Sheet, write_sheets

TEXTS = [
    "plain",
    "  leading",
    "trailing ",
    " ",
    "a\nb",
    "ends with a newline\n",
    "tab\tinside",
    "control \x01 and \x1f",
    "\x00",
    "a literal _x0041_ escape",
    "_X00e9_ upper and lower _x00E9_",
    "&amp; <b> \"quoted\" 'single'",
    "emoji 😀",
    "non-characters \ufffe\uffff",
    "Zoë Ångström",
    "=1+1",
    "x" * 40_000,  # longer than a cell holds: cut to 32,767
    "a" + "😀" * 16_383,  # exactly 32,767 UTF-16 units
    "ab" + "😀" * 16_383,  # one unit too many: the last emoji goes, not half of it
]
NUMBERS = [0.0, 1e-7, 123456789012345678.0, 189.6, -3.25, 1 / 3, 1_000_000.0]
_STYLE = re.compile(r' s="[0-9]+"')


def _sheet_xml(data: bytes, part: str = "xl/worksheets/sheet1.xml") -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return package.read(part).decode("utf-8")


def _data_rows(xml: str) -> str:
    """The rows below the header, without their style numbers (assigned in another order)."""
    body = xml.split("<sheetData>", 1)[1].split("</sheetData>", 1)[0]
    return _STYLE.sub("", body.split("</row>", 1)[1])


def _by_xlsxwriter(texts: list[str], numbers: list[float], folder: Path) -> bytes:
    """The cells written one by one by XlsxWriter in constant-memory mode (inline strings)."""
    path = folder / "theirs.xlsx"
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = book.add_worksheet("t")
    money = book.add_format({"num_format": "#,##0.00"})
    fill = book.add_format({"bg_color": "#FFF4CC", "pattern": 1})
    ws.write_string(0, 0, "header")
    for row, (text, number) in enumerate(zip(texts, numbers, strict=True), start=1):
        ws.write_string(row, 0, text)
        ws.write_number(row, 1, number, money)
        ws.write_blank(row, 2, None, fill)
        ws.write_string(row, 3, text, fill)
    book.close()
    return path.read_bytes()


def _by_rows(texts: list[str], numbers: list[float]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    ws = book.add_worksheet("t")
    money = book.add_format({"num_format": "#,##0.00"})
    fill = book.add_format({"bg_color": "#FFF4CC", "pattern": 1})
    ws.write_string(0, 0, "header")
    blank = blank_cell(fill)
    rows = Rows(1, 1, [text_cell(None), number_cell(money), lambda _: blank, text_cell(fill)])
    for text, number in zip(texts, numbers, strict=True):
        rows.add([text, number, None, text])
    book.close()
    return splice_bytes(buffer.getvalue(), [rows])


def test_rows_are_the_xml_xlsxwriter_writes_for_the_same_cells(tmp_path: Path) -> None:
    numbers = (NUMBERS * 3)[: len(TEXTS)]
    ours = _by_rows(TEXTS, numbers)
    theirs = _by_xlsxwriter(TEXTS, numbers, tmp_path)
    assert _data_rows(_sheet_xml(ours)) == _data_rows(_sheet_xml(theirs))
    # The same dimension, and the same values and formats on the same cells.
    dimension = f'<dimension ref="A1:D{len(TEXTS) + 1}"/>'
    assert dimension in _sheet_xml(ours) and dimension in _sheet_xml(theirs)
    read_ours = openpyxl.load_workbook(io.BytesIO(ours))["t"]
    read_theirs = openpyxl.load_workbook(io.BytesIO(theirs))["t"]
    for mine, other in zip(read_ours.iter_rows(), read_theirs.iter_rows(), strict=True):
        for a, b in zip(mine, other, strict=True):
            assert (a.value, a.number_format, a.fill.fgColor.rgb) == (
                b.value,
                b.number_format,
                b.fill.fgColor.rgb,
            )
    # openpyxl shows Excel's escapes as they are stored; Excel shows the characters.
    assert read_ours["A10"].value == "_x0000_" and read_ours["A11"].value == TEXTS[9].replace(
        "_x0041_", "_x005F_x0041_"
    )


def test_a_row_without_a_cell_is_left_out_as_xlsxwriter_leaves_it(tmp_path: Path) -> None:
    path = tmp_path / "theirs.xlsx"
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = book.add_worksheet("t")
    ws.write_string(0, 0, "header")
    ws.write_string(1, 0, "a")
    ws.write_string(3, 0, "c")
    book.close()
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.add_worksheet("t").write_string(0, 0, "header")
    book.close()
    text = text_cell(None)
    rows = Rows(1, 1, [lambda v: None if v is None else text(str(v))])
    for value in ("a", None, "c"):
        rows.add([value])
    ours = _sheet_xml(splice_bytes(buffer.getvalue(), [rows]))
    assert _data_rows(ours) == _data_rows(_sheet_xml(path.read_bytes()))
    assert '<dimension ref="A1:A4"/>' in ours


def test_a_number_that_is_not_finite_is_refused() -> None:
    cell = number_cell(None)
    for bad in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(TypeError, match="not a finite number"):
            cell(bad)


def test_splice_keeps_every_other_part_as_it_was(tmp_path: Path) -> None:
    before = _by_xlsxwriter(["x"], [1.0], tmp_path)
    rows = Rows(1, 5, [text_cell(None)])
    rows.add(["far below"])
    after = splice_bytes(before, [rows])
    with zipfile.ZipFile(io.BytesIO(before)) as a, zipfile.ZipFile(io.BytesIO(after)) as b:
        assert [i.filename for i in a.infolist()] == [i.filename for i in b.infolist()]
        for old, new in zip(a.infolist(), b.infolist(), strict=True):
            assert (old.date_time, old.compress_type) == (new.date_time, new.compress_type)
            if old.filename != rows.part:
                assert a.read(old) == b.read(new)
    sheet = openpyxl.load_workbook(io.BytesIO(after))["t"]
    assert sheet["A2"].value == "x" and sheet["A6"].value == "far below"
    assert 'ref="A1:D6"' in _sheet_xml(after)


def test_a_table_rows_go_between_its_header_and_its_total(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    columns = [Column("name", TEXT), Column("count", COUNT)]
    with Book(path) as book:
        write_sheets(
            book,
            [
                Sheet("one", columns, [["a", 1], ["b", 2]], ["Total", 3]),
                Sheet("two", columns, ([f"r{i}", i] for i in range(5000))),
            ],
        )
    xml = _sheet_xml(path.read_bytes())
    assert [int(n) for n in re.findall(r'<row r="([0-9]+)"', xml)] == [1, 2, 3, 5]
    assert 'ref="A1:B5"' in xml
    two = openpyxl.load_workbook(path)["two"]
    assert two.max_row == 5001 and two["A5001"].value == "r4999" and two["B5001"].value == 4999
    assert not list(tmp_path.glob(".*"))  # the spliced copy replaced the file


def test_rows_past_the_memory_spool_come_out_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sheet_rows, "SPOOL_MEMORY", 1000)
    texts = [f"row {i} " * 5 for i in range(3000)]
    data = _by_rows(texts, [float(i) for i in range(3000)])
    sheet = openpyxl.load_workbook(io.BytesIO(data))["t"]
    assert [c.value for c in sheet["A"][1:]] == texts
    assert sheet["B3001"].value == 2999


def test_a_failed_book_leaves_no_spliced_copy(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    with pytest.raises(ValueError, match="boom"), Book(path) as book:
        ws = book.sheet("t")
        rows = book.rows(ws, 1, [TEXT])
        rows.add(["x"])
        raise ValueError("boom")
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]


def test_rows_past_the_last_of_a_sheet_are_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sheet_rows, "SHEET_ROWS", 3)
    data = _by_rows(["a", "b", "c", "d"], [1.0, 2.0, 3.0, 4.0])
    sheet = openpyxl.load_workbook(io.BytesIO(data))["t"]
    assert [c.value for c in sheet["A"]] == ["header", "a", "b"]
    assert '<dimension ref="A1:D3"/>' in _sheet_xml(data)


def test_rows_for_a_sheet_the_workbook_does_not_have_are_an_error(tmp_path: Path) -> None:
    rows = Rows(2, 1, [text_cell(None)])
    rows.add(["lost?"])
    with pytest.raises(RuntimeError, match=r"no part xl/worksheets/sheet2\.xml"):
        splice_bytes(_by_xlsxwriter(["x"], [1.0], tmp_path), [rows])
