"""The answer files a focal point fills in: the XLSX workbook and the CSV, written and read back.

The workbook is opened with openpyxl as Excel would show it (one sheet, a
drop-down, a date cell, the rest locked); filled workbooks and French CSV
files (byte-order mark, ``;``) go through ``licensewatch decisions import``
into the store, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
from collections.abc import Iterator
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from licensewatch.answers.answer_file import read_decisions
from licensewatch.answers.answer_sheet import ANSWER_COLUMNS, DATE_FORMAT, answer_csv, answer_xlsx
from licensewatch.cli.parser import main
from licensewatch.errors import InputError
from tests import orgfiles
from tests.smtporg import rows
from tests.store.conftest import fresh_schema, pg_server_url  # noqa: F401 - the fixture
from tests.test_cli import error_lines

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Legal's answers: carol is kept (a date cell, as Excel stores it), the rest removed.
KEEP_UNTIL = datetime(2020, 6, 30)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "sqlite":
        yield "sqlite:///licensewatch.db"
        return
    server_url = request.getfixturevalue("pg_server_url")
    with fresh_schema(server_url, "lw_answers") as url:
        yield url


def french_org(root: Path, database_url: str) -> Path:
    """The test organization with Legal's focal point reading French, after its first run."""
    focal = orgfiles.FOCAL_POINTS.replace(
        "legal.assistant@contoso.org,en", "legal.assistant@contoso.org,fr"
    )
    config = orgfiles.CONFIG.replace('url = "sqlite:///licensewatch.db"', f'url = "{database_url}"')
    org = orgfiles.write_org(root, focal_points=focal, config=config)
    assert main(["run", "--config", str(org), "--as-of", orgfiles.AS_OF]) == 0
    return org


def legal_notice(org: Path) -> EmailMessage:
    (path,) = (org.parent / "outbox").glob("*_notice_legal_*.eml")
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def part(msg: EmailMessage, content_type: str) -> tuple[str, bytes]:
    found = next(p for p in msg.iter_attachments() if p.get_content_type() == content_type)
    data = found.get_payload(decode=True)
    assert isinstance(data, bytes)
    return str(found.get_filename()), data


def columns(sheet: Worksheet) -> dict[str, str]:
    """Header name → column letter."""
    return {str(c.value): c.column_letter for c in sheet[1]}


def fill_workbook(data: bytes, path: Path, *, justification: str = "Maternity leave") -> Path:
    """The workbook as a focal point returns it: a decision on every row, carol kept."""
    book = load_workbook(io.BytesIO(data))
    sheet = book.active
    where = columns(sheet)
    for row in range(2, sheet.max_row + 1):
        subject = sheet[f"{where['subject']}{row}"].value
        if subject == "carol@contoso.org":
            sheet[f"{where['decision']}{row}"] = "keep"
            sheet[f"{where['justification']}{row}"] = justification
            sheet[f"{where['keep_until']}{row}"] = KEEP_UNTIL
        else:
            sheet[f"{where['decision']}{row}"] = "remove"
    book.save(path)
    return path


def test_the_workbook_is_one_protected_sheet_with_a_drop_down_and_a_date_cell(
    tmp_path: Path,
) -> None:
    org = french_org(tmp_path / "org", "sqlite:///licensewatch.db")
    name, data = part(legal_notice(org), XLSX)
    assert name == f"licensewatch_legal_{orgfiles.AS_OF}.xlsx"
    book = load_workbook(io.BytesIO(data))
    assert len(book.worksheets) == 1
    sheet = book.active
    where = columns(sheet)
    last = sheet.max_row
    assert last == 1 + len([e for e in orgfiles.EXPECTED if e[0] == "Legal"])
    assert sheet.freeze_panes == "A2"
    assert sheet.protection.sheet is True and not sheet.protection.password
    # The decision drop-down and the keep_until date check cover every data row.
    rules = {str(v.sqref): v for v in sheet.data_validations.dataValidation}
    decision = rules[f"{where['decision']}2:{where['decision']}{last}"]
    assert decision.type == "list" and decision.formula1 == '"remove,keep"'
    assert decision.showErrorMessage
    keep = rules[f"{where['keep_until']}2:{where['keep_until']}{last}"]
    # "between" is the schema's default operator: a writer may leave it out (XlsxWriter does).
    assert keep.type == "date" and keep.operator in (None, "between")
    assert keep.formula1 == "DATE(2019,12,31)" and keep.formula2 == "DATE(2020,12,31)"
    assert "un an au plus" in str(keep.error)  # Legal reads French
    # Only the answer columns can be typed in; keep_until cells are dates.
    for row in range(2, last + 1):
        for header, letter in where.items():
            cell = sheet[f"{letter}{row}"]
            assert cell.protection.locked is (header not in ANSWER_COLUMNS), (header, row)
        assert sheet[f"{where['keep_until']}{row}"].number_format == DATE_FORMAT
    for header, letter in where.items():
        width = sheet.column_dimensions[letter].width
        assert width >= max(9, min(len(header), 30)), header
    assert all(c.font.bold for c in sheet[1])


def test_a_formula_in_a_name_stays_text_in_the_workbook() -> None:
    import pandas as pd

    table = pd.DataFrame(
        {"resource_id": ["license:x"], "display_name": ['=HYPERLINK("http://e.x","y")'],
         "annual_cost_usd": ["189.60"], "decision": [""], "keep_until": [""]}
    )  # fmt: skip
    book = load_workbook(io.BytesIO(answer_xlsx(table, as_of=date(2020, 1, 1))))
    sheet = book.active
    assert sheet["B2"].data_type == "s" and sheet["B2"].value == "'" + table.iloc[0, 1]
    assert sheet["C2"].value == 189.6 and sheet["C2"].number_format == "0.00"
    assert answer_csv(table, language="fr").startswith("\ufeffresource_id;display_name;")
    assert ";189,60;" in answer_csv(table, language="fr")
    assert ",189.60," in answer_csv(table)


def test_decisions_import_reads_a_filled_workbook(tmp_path: Path, database_url: str) -> None:
    org = french_org(tmp_path / "org", database_url)
    _, data = part(legal_notice(org), XLSX)
    answer = fill_workbook(data, tmp_path / "legal.xlsx")
    imported = ["decisions", "import", str(answer), "--department", "Legal"]
    assert main([*imported, "--config", str(org), "--as-of", orgfiles.AS_OF]) == 0
    decided = rows(org, "select s.subject, d.decision, d.keep_until from decisions d "
                   "join resource_state s on s.resource_id = d.resource_id")  # fmt: skip
    by_subject = {subject: (decision, str(until)[:10]) for subject, decision, until in decided}
    legal = {e[1] for e in orgfiles.EXPECTED if e[0] == "Legal"}
    assert set(by_subject) == legal
    assert by_subject.pop("carol@contoso.org") == ("keep", "2020-06-30")
    assert {d for d, _ in by_subject.values()} == {"remove"}


def test_a_bad_workbook_row_is_refused_whole_naming_file_row_and_column(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    org = french_org(tmp_path / "org", database_url)
    _, data = part(legal_notice(org), XLSX)
    answer = fill_workbook(data, tmp_path / "legal.xlsx", justification="tbd")
    sheet = load_workbook(answer).active
    where = columns(sheet)
    (row,) = [r for r in range(2, sheet.max_row + 1)
              if sheet[f"{where['subject']}{r}"].value == "carol@contoso.org"]  # fmt: skip
    imported = ["decisions", "import", str(answer), "--department", "Legal"]
    assert main([*imported, "--config", str(org), "--as-of", orgfiles.AS_OF]) == 2
    assert error_lines(capsys.readouterr().err) == [
        f"licensewatch: error: {answer}, row {row}, column 'justification': 'tbd' is not a "
        "justification: say why the resource is still needed (fix the file and run again; "
        "nothing was written)"
    ]
    assert rows(org, "select count(*) from decisions") == [(0,)]


def test_decisions_import_reads_the_french_csv_as_excel_saves_it(
    tmp_path: Path, database_url: str
) -> None:
    org = french_org(tmp_path / "org", database_url)
    name, data = part(legal_notice(org), "text/csv")
    assert name == f"licensewatch_legal_{orgfiles.AS_OF}.csv"
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0].endswith("decision;justification;keep_until")
    table = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert all("," in r["annual_cost_usd"] for r in table)  # decimal commas
    for r in table:
        if r["subject"] == "carol@contoso.org":
            r.update(decision="conserver", justification="Congé maternité", keep_until="2020-06-30")
        else:
            r["decision"] = "supprimer"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(table[0]), delimiter=";")
    writer.writeheader()
    writer.writerows(table)
    answer = tmp_path / "legal.csv"
    answer.write_bytes(out.getvalue().encode("utf-8-sig"))
    imported = ["decisions", "import", str(answer), "--department", "Legal"]
    assert main([*imported, "--config", str(org), "--as-of", orgfiles.AS_OF]) == 0
    decided = dict(rows(org, "select s.subject, d.decision from decisions d "
                        "join resource_state s on s.resource_id = d.resource_id"))  # fmt: skip
    assert decided.pop("carol@contoso.org") == "keep"
    assert set(decided.values()) == {"remove"} and decided


def test_read_decisions_reads_a_workbook_and_says_when_one_was_renamed(tmp_path: Path) -> None:
    import pandas as pd

    known = pd.DataFrame(
        [("license:a", "alice@x.org", "Finance", "notified")],
        columns=["resource_id", "subject", "department", "status"],
    ).astype("string")
    table = pd.DataFrame(
        {"resource_id": ["license:a"], "subject": ["alice@x.org"], "annual_cost_usd": ["1.00"],
         "decision": [""], "justification": [""], "keep_until": [""]}
    )  # fmt: skip
    path = tmp_path / "answer.xlsx"
    path.write_bytes(answer_xlsx(table, as_of=date(2020, 1, 1)))
    book = load_workbook(path)
    book.active["D2"] = "keep"
    book.active["F2"] = datetime(2020, 12, 31)
    book.save(path)
    args = {"department": "Finance", "known": known, "as_of": date(2020, 1, 1)}
    with pytest.raises(InputError) as exc:
        read_decisions(path, **args)  # type: ignore[arg-type]
    assert [(p.file, p.row, p.column) for p in exc.value.problems] == [
        (str(path), 2, "justification")
    ]
    renamed = tmp_path / "answer.csv"
    renamed.write_bytes(path.read_bytes())
    with pytest.raises(InputError, match="Excel workbook saved under another name"):
        read_decisions(renamed, **args)  # type: ignore[arg-type]
