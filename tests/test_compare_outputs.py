"""benchmarks.compare_outputs: what it masks (run key, dates, boundaries) and what it catches."""

from __future__ import annotations

import io
import shutil
from email.message import EmailMessage
from pathlib import Path

import openpyxl
import xlsxwriter

from benchmarks.compare_outputs import compare

EMAIL = """\
Date: {date}
X-Licensewatch-Run: {run}
Content-Type: multipart/mixed; boundary="==============={boundary}=="

--==============={boundary}==
Dear Ann, 3 dormant accounts of {folder}.
"""


def night(root: Path, *, run: str, date: str, boundary: str, cost: float) -> Path:
    (root / "outbox").mkdir(parents=True)
    (root / "reports").mkdir()
    text = EMAIL.format(date=date, run=run, boundary=boundary, folder=root)
    (root / "outbox" / "notice.eml").write_text(text, encoding="utf-8")
    stamp = "2026-12-02T00:05:13Z" if run < "b" else "2026-12-03 10:00:00.5+00:00"
    summary = f'{{"run_key": "{run}", "finished_at": "{stamp}", "findings": 3}}'
    (root / "reports" / "run_summary.json").write_text(summary, encoding="utf-8")
    book = openpyxl.Workbook()
    book.active.append(["item", "cost"])
    book.active.append(["M365_E3", cost])
    book.save(root / "reports" / "finance_summary.xlsx")
    return root


def test_the_same_night_twice_has_no_difference(tmp_path: Path) -> None:
    a = night(tmp_path / "a", run="aaaa1111", date="Wed, 02 Dec 2026 00:05:13 +0000",
              boundary="9129135991824566127", cost=189.6)  # fmt: skip
    b = night(tmp_path / "b", run="bbbb2222", date="Thu, 03 Dec 2026 10:00:00 +0000",
              boundary="1111111111111111111", cost=189.6)  # fmt: skip
    assert list(compare(a, b)) == []


def test_a_changed_value_or_a_missing_file_is_reported(tmp_path: Path) -> None:
    a = night(tmp_path / "a", run="r1", date="d", boundary="1", cost=189.6)
    b = night(tmp_path / "b", run="r2", date="d", boundary="2", cost=189.61)
    shutil.copy(a / "reports" / "run_summary.json", a / "reports" / "extra.json")
    (b / "outbox" / "notice.eml").write_text("Dear Bob", encoding="utf-8")
    found = list(compare(a, b))
    assert "reports/extra.json: only in before" in found
    assert any(line.startswith("outbox/notice.eml: differs") for line in found)
    assert any(line.startswith("reports/finance_summary.xlsx [Sheet]: row 2") for line in found)


def _notice_with_workbook(root: Path, value: str, *, writer: str) -> Path:
    """A notice with an answer workbook holding ``value``, written by openpyxl or XlsxWriter."""
    buffer = io.BytesIO()
    if writer == "openpyxl":
        book = openpyxl.Workbook()
        book.active.append(["decision", value])
        book.save(buffer)
    else:
        xbook = xlsxwriter.Workbook(buffer)
        xbook.add_worksheet("Sheet").write_row(0, 0, ["decision", value])
        xbook.close()
    msg = EmailMessage()
    msg["Subject"] = "Dormant accounts"
    msg.set_content("Dear Ann")
    msg.add_attachment(buffer.getvalue(), maintype="application", subtype="octet-stream",
                       filename="answer.xlsx")  # fmt: skip
    (root / "outbox").mkdir(parents=True)
    (root / "outbox" / "notice.eml").write_bytes(bytes(msg))
    return root


def test_an_attached_workbook_is_compared_by_its_cells_not_its_bytes(tmp_path: Path) -> None:
    a = _notice_with_workbook(tmp_path / "a", "remove", writer="openpyxl")
    b = _notice_with_workbook(tmp_path / "b", "remove", writer="xlsxwriter")
    c = _notice_with_workbook(tmp_path / "c", "keep", writer="xlsxwriter")
    assert list(compare(a, b)) == []
    (found,) = compare(a, c)
    assert found.startswith("outbox/notice.eml: differs") and "'keep'" in found


def _styled(root: Path, *, money: str = "#,##0.00", freeze: bool = True, bold: bool = True) -> Path:
    """A finance workbook with the same values and a choice of format, pane and header style."""
    (root / "reports").mkdir(parents=True)
    book = xlsxwriter.Workbook(str(root / "reports" / "finance_summary.xlsx"))
    ws = book.add_worksheet("Summary")
    ws.write_row(0, 0, ["item", "cost"], book.add_format({"bold": bold}))
    ws.write_number(1, 1, 189.6, book.add_format({"num_format": money}))
    ws.write_string(1, 0, "M365_E3")
    if freeze:
        ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, 1, 1)
    book.close()
    return root


def test_a_workbook_with_the_same_values_but_other_formats_or_layout_differs(
    tmp_path: Path,
) -> None:
    a = _styled(tmp_path / "a")
    assert list(compare(a, _styled(tmp_path / "same"))) == []
    (money,) = compare(a, _styled(tmp_path / "money", money="0.00"))
    assert money.startswith("reports/finance_summary.xlsx [Summary]: row 2") and "0.00" in money
    (bold,) = compare(a, _styled(tmp_path / "bold", bold=False))
    assert "row 1" in bold
    (pane,) = compare(a, _styled(tmp_path / "pane", freeze=False))
    assert pane.startswith("reports/finance_summary.xlsx [Summary] layout:") and "A2" in pane
