"""A focal point's returned decisions file → checked decisions, or every problem at once."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from licensewatch import model
from licensewatch.answers.answer_file import (
    DECISIONS,
    MAX_KEEP_DAYS,
    Decision,
    latest_keep_until,
    read_decisions,
    unescape,
)
from licensewatch.errors import InputError
from licensewatch.notify.compose import ATTACHMENT_COLUMNS
from licensewatch.reports.csvsafe import csv_text

AS_OF = date(2020, 1, 1)
HEADER = "resource_id,subject,decision,justification,keep_until\n"
KNOWN = pd.DataFrame(
    [
        ("license:a:e3", "alice@x.org", "Finance", "notified"),
        ("license:a:visio", "alice@x.org", "Finance", "notified"),
        ("license:b:e3", "bob@x.org", "Finance", "new"),
        ("phone:sep001122334455", "SEP001122334455", "Finance", "notified"),
        ("license:c:e3", "carol@x.org", "Legal", "notified"),
        ("license:d:e3", "dave@x.org", "Finance", "removed"),
        ("license:d:visio", "dave@x.org", "Finance", "notified"),
        ("license:e:e3", "erin@x.org", "Finance", "notified"),
        ("license:e:p1", "erin@x.org", "Legal", "notified"),
        ("license:f:e3", "frank@x.org", "Finance", "removed"),
        ("license:f:p1", "frank@x.org", "Finance", "removed"),
    ],
    columns=["resource_id", "subject", "department", "status"],
).astype(model.STRING)


def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "back.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def read(path: Path, **kw: Any) -> pd.DataFrame:
    args: dict[str, Any] = {"department": "Finance", "known": KNOWN, "as_of": AS_OF, **kw}
    return read_decisions(path, **args)


def expected(*rows: tuple[str, str, str, str, str | None, str | None, int]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(DECISIONS))
    frame["keep_until"] = pd.to_datetime(frame["keep_until"], utc=True)
    return model.conform(frame, DECISIONS)


def problems(path: Path, **kw: Any) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(InputError) as exc:
        read(path, **kw)
    assert all(p.file == str(path) for p in exc.value.problems)
    return [(p.row, p.column, p.message) for p in exc.value.problems]


def test_good_mixed_file_from_excel_semicolons_bom_french_words(tmp_path: Path) -> None:
    text = (
        "\ufeffDisplay_Name;Subject;Resource_ID;Annual_Cost_USD;Decision;Keep_Until;Justification\n"
        "Bob;bob@x.org;license:b:e3;189,60;Supprimer;;parti en janvier\n"
        ";;;;;;\n"
        "Alice;alice@x.org;license:a:e3;189,60; CONSERVER ;2020-06-30;Détachée à Genève\n"
        "Phone;SEP001122334455;phone:sep001122334455;230,00;;;\n"
        "Alice;alice@x.org;license:a:visio;60,00;keep;2020-12-31 00:00:00;réunions du comité\n"
        "Erin;erin@x.org;license:e:e3;189,60;REMOVE;;\n"
    )
    got = read(write(tmp_path, text))
    assert_frame = expected(
        ("license:b:e3", "bob@x.org", "Finance", "remove", "parti en janvier", None, 2),
        ("license:a:e3", "alice@x.org", "Finance", "keep", "Détachée à Genève", "2020-06-30", 4),
        (
            "license:a:visio",
            "alice@x.org",
            "Finance",
            "keep",
            "réunions du comité",
            "2020-12-31",
            6,
        ),
        ("license:e:e3", "erin@x.org", "Finance", "remove", None, None, 7),
    )
    pd.testing.assert_frame_equal(got, assert_frame)
    assert {c: str(t) for c, t in got.dtypes.items()} == DECISIONS
    assert set(got["decision"]) == {Decision.REMOVE, Decision.KEEP}


@pytest.mark.parametrize(
    ("encoding", "delimiter", "option"),
    [
        ("cp1252", ";", "auto"),  # Excel's plain "CSV" on Western-European Windows
        ("cp1252", ",", "cp1252"),
        ("utf-16", "\t", "auto"),  # Excel's "Unicode text"
        ("utf-8-sig", ",", "auto"),
    ],
)
def test_encodings_excel_saves(tmp_path: Path, encoding: str, delimiter: str, option: str) -> None:
    text = "resource_id,decision,justification,keep_until\n"
    text += "license:b:e3,keep,Congé maternité,2020-09-01\n"
    path = write(tmp_path, text.replace(",", delimiter), encoding)
    got = read(path, encoding=option)
    assert got["justification"].tolist() == ["Congé maternité"]
    assert got["keep_until"].tolist() == [pd.Timestamp("2020-09-01", tz="UTC")]


def test_undecodable_file_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "resource_id,decision\n", name="x.csv")
    path.write_bytes(b"resource_id,decision\nlicense:b:e3,\x81\x8d\n")
    assert problems(path)[0][:2] == (None, None)
    with pytest.raises(LookupError):
        read(path, encoding="no-such-codec")


def test_attachment_written_by_the_job_reads_back_unescaped(tmp_path: Path) -> None:
    row = dict.fromkeys(ATTACHMENT_COLUMNS, "")
    row |= {"resource_id": "license:a:e3", "subject": "alice@x.org"}
    row |= {"display_name": "=HYPERLINK(1)", "decision": "keep", "keep_until": "2020-03-31"}
    row |= {"justification": "=needed until the audit closes"}
    other = dict(row, resource_id="license:b:e3", subject="bob@x.org")
    other |= {"justification": "'tis the season", "keep_until": "2020-02-29"}
    text = csv_text(pd.DataFrame([row, other], columns=list(ATTACHMENT_COLUMNS)))
    assert "'=needed" in text
    got = read(write(tmp_path, text))
    assert got["justification"].tolist() == ["=needed until the audit closes", "'tis the season"]


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ("'=1+1", "=1+1"),
        ("'+x", "+x"),
        ("'@SUM(A1)", "@SUM(A1)"),
        ("'-", "-"),
        ("'-12.50", "'-12.50"),  # a number is never escaped, so this quote is the writer's
        ("'tis", "'tis"),
        ("=1+1", "=1+1"),
        ("''=1", "''=1"),  # neutralize never writes two quotes
        ("", ""),
    ],
)
def test_unescape_undoes_neutralize_only(value: str, plain: str) -> None:
    assert unescape(value) == plain


def test_latest_keep_until_is_a_calendar_year() -> None:
    assert latest_keep_until(date(2021, 3, 1)) == date(2022, 3, 1)
    assert latest_keep_until(date(2020, 2, 29)) == date(2021, 2, 28)
    assert latest_keep_until(date(2019, 3, 1)) - date(2019, 3, 1) == timedelta(MAX_KEEP_DAYS)
    assert latest_keep_until(date(2020, 1, 1)) - date(2020, 1, 1) == timedelta(MAX_KEEP_DAYS)


@pytest.mark.parametrize(
    ("as_of", "until", "ok"),
    [
        (date(2021, 3, 1), "2022-03-01", True),  # exactly one year (365 days)
        (date(2021, 3, 1), "2022-03-02", False),  # 366 days is more than this year
        (date(2020, 1, 1), "2021-01-01", True),  # exactly one year across a leap day (366)
        (date(2020, 1, 1), "2021-01-02", False),  # 367 days
        (date(2020, 2, 29), "2021-02-28", True),
        (date(2020, 2, 29), "2021-03-01", False),
        (date(2020, 1, 1), "2020-01-01", True),  # until the run date itself
        (date(2020, 1, 1), "2019-12-31", False),
    ],
)
def test_keep_lasts_at_most_a_year(tmp_path: Path, as_of: date, until: str, ok: bool) -> None:
    path = write(tmp_path, HEADER + f"license:b:e3,,keep,on long sick leave,{until}\n")
    if ok:
        assert read(path, as_of=as_of)["keep_until"].tolist() == [pd.Timestamp(until, tz="UTC")]
    else:
        [(row, column, message)] = problems(path, as_of=as_of)
        assert (row, column) == (2, "keep_until")
        assert message.startswith(f"keep_until {until} is ")


@pytest.mark.parametrize(
    ("line", "column", "message"),
    [
        (
            "license:b:e3,,delete,,",
            "decision",
            "'delete' is not a decision; write remove or keep (supprimer or conserver in French)",
        ),
        (
            "license:z:e3,,remove,,",
            "resource_id",
            "unknown resource_id 'license:z:e3' (not a finding licensewatch reported)",
        ),
        (
            ",zoe@x.org,remove,,",
            "subject",
            "unknown subject 'zoe@x.org' (not a finding licensewatch reported)",
        ),
        (
            "license:c:e3,,remove,,",
            "resource_id",
            "resource_id 'license:c:e3' belongs to department Legal, not Finance",
        ),
        (
            ",Carol@X.org,remove,,",
            "subject",
            "subject 'Carol@X.org' belongs to department Legal, not Finance",
        ),
        (
            "license:a:e3,bob@x.org,remove,,",
            "subject",
            "resource_id 'license:a:e3' is the finding of 'alice@x.org', not of 'bob@x.org' "
            "(sorting one column alone mixes rows up)",
        ),
        (",,remove,gone,", None, "neither resource_id nor subject is given; one is needed"),
        (
            "license:b:e3,,keep,,2020-06-30",
            "justification",
            "a keep needs a justification: say why the resource is still needed",
        ),
        (
            "license:b:e3,,keep,n/a,2020-06-30",
            "justification",
            "'n/a' is not a justification: say why the resource is still needed",
        ),
        (
            "license:b:e3,,keep,mission,",
            "keep_until",
            "a keep needs keep_until, a date from 2020-01-01 to 2021-01-01",
        ),
        (
            "license:b:e3,,keep,mission,next year",
            "keep_until",
            "'next year' is not a date like 2019-12-31",
        ),
        (
            "license:b:e3,,keep,mission,2019-12-31",
            "keep_until",
            "keep_until 2019-12-31 is before 2020-01-01, the run date",
        ),
        (
            "license:b:e3,,keep,mission,2021-01-02",
            "keep_until",
            "keep_until 2021-01-02 is more than a year after 2020-01-01; "
            "the latest allowed is 2021-01-01",
        ),
        (
            "license:b:e3,,remove,,2020-06-30",
            "keep_until",
            "keep_until is only for keep; leave it empty for remove",
        ),
    ],
)
def test_each_problem_names_file_row_and_column(
    tmp_path: Path, line: str, column: str | None, message: str
) -> None:
    path = write(tmp_path, HEADER + "license:e:e3,,remove,,\n" + line + "\n")
    assert problems(path) == [(3, column, message)]
    with pytest.raises(InputError) as exc:
        read(path)
    where = f"{path}, row 3" + (f", column '{column}'" if column else "")
    assert (
        exc.value.one_line()
        == f"{where}: {message} (fix the file and run again; nothing was written)"
    )


@pytest.mark.parametrize("placeholder", ["-", "TBD", "None", "ok", "?", "keep", "n.a.", " x "])
def test_placeholder_justifications_are_refused(tmp_path: Path, placeholder: str) -> None:
    path = write(tmp_path, HEADER + f'license:b:e3,,keep,"{placeholder}",2020-06-30\n')
    assert [(r, c) for r, c, _ in problems(path)] == [(2, "justification")]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = HEADER + (
        "license:b:e3,,delete,,\n"  # 2
        "license:z:e3,,keep,,\n"  # 3: unknown, no justification, no keep_until
        "license:e:e3,,remove,,\n"  # 4: fine
        "license:c:e3,,remove,,2020-02-01\n"  # 5: other department, keep_until for remove
        ",,,,\n"  # blank
        "license:a:e3,,keep,mission,31/12/2020\n"  # 7
    )
    path = write(tmp_path, text)
    found = problems(path)
    assert [(r, c) for r, c, _ in found] == [
        (2, "decision"),
        (3, "justification"),
        (3, "keep_until"),
        (3, "resource_id"),
        (5, "keep_until"),
        (5, "resource_id"),
        (7, "keep_until"),
    ]
    with pytest.raises(InputError) as exc:
        read(path)
    assert exc.value.message.endswith("(and 6 more problems)")


def test_a_subject_decides_for_each_of_its_findings_in_the_department(tmp_path: Path) -> None:
    text = HEADER + (
        ",  ALICE@x.org ,remove,,\n"  # two licences
        ",erin@x.org,keep,back in March,2020-03-31\n"  # one in Finance, one in Legal
        ",dave@x.org,remove,,\n"  # one removed already, one open
        ",frank@x.org,remove,,\n"  # all removed: the decision still applies to all
        ",sep001122334455,remove,,\n"
    )
    got = read(write(tmp_path, text))
    assert list(zip(got["row"], got["resource_id"], strict=True)) == [
        (2, "license:a:e3"),
        (2, "license:a:visio"),
        (3, "license:e:e3"),
        (4, "license:d:visio"),
        (5, "license:f:e3"),
        (5, "license:f:p1"),
        (6, "phone:sep001122334455"),
    ]
    assert got["subject"][0] == "alice@x.org"
    assert got["keep_until"][2] == pd.Timestamp("2020-03-31", tz="UTC")


def test_legal_reads_its_own_rows_and_refuses_finance_ones(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + ",erin@x.org,remove,,\nlicense:b:e3,,remove,,\n")
    assert problems(path, department=" legal ") == [
        (3, "resource_id", "resource_id 'license:b:e3' belongs to department Finance, not  legal ")
    ]
    path = write(tmp_path, HEADER + ",erin@x.org,remove,,\n")
    got = read(path, department="LEGAL")
    assert got[["resource_id", "department"]].values.tolist() == [["license:e:p1", "Legal"]]


def test_a_department_with_no_findings_is_one_file_level_problem(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "license:b:e3,,remove,,\nlicense:z,,delete,,\n")
    with pytest.raises(InputError) as exc:
        read(path, department="Finanse")
    assert [(p.row, p.column) for p in exc.value.problems] == [(None, None)]
    assert exc.value.message == (
        f"{path}: no finding licensewatch reported belongs to department 'Finanse'"
    )
    assert exc.value.hint == "check the department: those with findings are Finance, Legal"


def test_date_formats(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "license:b:e3,,keep,mission,03/04/2020\n")
    [(_, _, message)] = problems(path)
    assert message == (
        "'03/04/2020' is not a date like 2027-12-31; to read it as day/month/year pass "
        "--date-format day-first (month/day/year: month-first)"
    )
    day_first = read(path, date_format="day-first")["keep_until"][0]
    assert day_first == pd.Timestamp("2020-04-03", tz="UTC")
    month_first = read(path, date_format="Month-First")["keep_until"][0]
    assert month_first == pd.Timestamp("2020-03-04", tz="UTC")
    path = write(tmp_path, HEADER + "license:b:e3,,keep,mission,12/31/2020\n")
    assert problems(path, date_format="day-first")[0][2] == (
        "'12/31/2020' is not a date like 2019-12-31 or a day-first one like 31/12/2019"
    )
    path = write(tmp_path, HEADER + "license:b:e3,,keep,mission,2020-12-31\n")
    assert read(path, date_format="day-first")["keep_until"][0] == pd.Timestamp(
        "2020-12-31", tz="UTC"
    )
    with pytest.raises(ValueError, match="date_format must be one of"):
        read(path, date_format="auto")


def test_identical_duplicates_are_kept_once(tmp_path: Path) -> None:
    text = HEADER + (
        "license:a:e3,,keep,mission,2020-06-30\n"
        ",alice@x.org,Conserver,mission abroad,2020-06-30\n"
        "license:b:e3,,remove,,\n"
        "license:b:e3,,remove,left,\n"
    )
    got = read(write(tmp_path, text))
    justification = got["justification"].fillna("")
    assert list(zip(got["row"], got["resource_id"], justification, strict=True)) == [
        (2, "license:a:e3", "mission"),
        (3, "license:a:visio", "mission abroad"),
        (4, "license:b:e3", ""),
    ]


def test_conflicting_duplicates_name_both_rows(tmp_path: Path) -> None:
    text = HEADER + (
        "license:a:e3,,keep,mission,2020-06-30\n"
        ",alice@x.org,keep,mission,2020-07-31\n"
        "license:b:e3,,remove,,\n"
        ",,,,\n"
        "LICENSE:B:E3,,keep,mission,2020-06-30\n"
    )
    assert problems(write(tmp_path, text)) == [
        (
            3,
            "keep_until",
            "license:a:e3 is answered 'keep until 2020-07-31' here but "
            "'keep until 2020-06-30' in row 2",
        ),
        (
            6,
            "decision",
            "license:b:e3 is answered 'keep until 2020-06-30' here but 'remove' in row 4",
        ),
    ]


def test_blank_and_unanswered_rows_are_skipped(tmp_path: Path) -> None:
    text = HEADER + (
        "\n"
        ",,,,\n"
        "license:z:e3,nobody,,n/a,someday\n"  # not answered yet: not checked
        "license:b:e3,,remove,,\n"
    )
    got = read(write(tmp_path, text))
    assert got[["row", "resource_id"]].values.tolist() == [[5, "license:b:e3"]]


@pytest.mark.parametrize("header", [HEADER, "\ufeffsubject;decision\r\n", "decision,resource_id"])
def test_header_only_is_an_empty_frame(tmp_path: Path, header: str) -> None:
    got = read(write(tmp_path, header))
    pd.testing.assert_frame_equal(got, model.empty(DECISIONS))


@pytest.mark.parametrize(
    ("header", "column", "message"),
    [
        (
            "resource_id,subject,verdict\nlicense:b:e3,,remove\n",
            "decision",
            "required column 'decision' is missing",
        ),
        (
            "Decision,Display_Name\nremove,Bob\n",
            "resource_id",
            "needs at least one of the columns 'resource_id', 'subject'",
        ),
    ],
)
def test_missing_columns_are_reported_on_the_header(
    tmp_path: Path, header: str, column: str, message: str
) -> None:
    path = write(tmp_path, header)
    assert problems(path) == [(1, column, message)]


def test_known_findings_must_have_the_columns(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER)
    with pytest.raises(ValueError, match="status"):
        read(path, known=KNOWN.drop(columns="status"))


@settings(max_examples=60, deadline=None)
@given(
    as_of=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
    offset=st.integers(min_value=-400, max_value=800),
)
def test_any_iso_date_within_a_year_is_accepted_and_no_other(as_of: date, offset: int) -> None:
    until = as_of + timedelta(offset)
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), HEADER + f"license:b:e3,,keep,mission,{until.isoformat()}\n")
        if as_of <= until <= latest_keep_until(as_of):
            assert read(path, as_of=as_of)["keep_until"][0].date() == until
        else:
            assert [(r, c) for r, c, _ in problems(path, as_of=as_of)] == [(2, "keep_until")]


def test_a_future_as_of_cannot_stretch_a_keep_past_a_year_from_today(tmp_path: Path) -> None:
    today, future = date(2020, 1, 1), date(2030, 1, 1)
    path = write(tmp_path, HEADER + "license:b:e3,,keep,on long sick leave,2030-06-30\n")
    [(row, column, message)] = problems(path, as_of=future, today=today)
    assert (row, column) == (2, "keep_until")
    assert message == (
        "keep_until 2030-06-30 is more than a year after 2020-01-01 (today); "
        "the latest allowed is 2021-01-01"
    )
    # Within a year of today and not before the as-of day: accepted.
    path = write(tmp_path, HEADER + "license:b:e3,,keep,on long sick leave,2020-12-31\n")
    kept = read(path, as_of=date(2020, 6, 1), today=today)
    assert kept["keep_until"].tolist() == [pd.Timestamp("2020-12-31", tz="UTC")]


def test_decisions_import_counts_the_cap_from_the_clock_not_from_as_of(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from licensewatch.cli.cycle import decisions_import
    from licensewatch.cli.parser import main
    from tests import orgfiles
    from tests.smtporg import rows

    org = orgfiles.write_org(tmp_path / "org")
    assert main(["run", "--config", str(org), "--as-of", orgfiles.AS_OF]) == 0
    [carol] = rows(
        org.parent / "licensewatch.db",
        "select resource_id from resource_state where subject = 'carol@contoso.org'",
    )
    answer = write(tmp_path, HEADER + f"{carol[0]},,keep,maternity leave,2031-01-01\n")
    clock = lambda: datetime(2020, 1, 2, 9, 0, tzinfo=UTC)  # noqa: E731
    imported = {"department": "Legal", "date_format": "iso", "clock": clock}
    with pytest.raises(InputError, match="more than a year after 2020-01-02 \\(today\\)"):
        decisions_import(org, answer, as_of=date(2030, 12, 31), **imported)
    decided = rows(org.parent / "licensewatch.db", "select count(*) from decisions")
    assert decided == [(0,)]
    answer = write(tmp_path, HEADER + f"{carol[0]},,keep,maternity leave,2020-12-31\n")
    assert decisions_import(org, answer, as_of=date(2020, 1, 2), **imported) == 0


def test_importing_the_same_file_twice_records_once_and_says_who_decided(tmp_path: Path) -> None:
    import io
    from datetime import UTC, datetime

    from licensewatch.cli.cycle import decisions_import
    from licensewatch.cli.parser import main
    from licensewatch.night.run import operator
    from tests import orgfiles
    from tests.smtporg import rows

    org = orgfiles.write_org(tmp_path / "org")
    assert main(["run", "--config", str(org), "--as-of", orgfiles.AS_OF]) == 0
    [carol] = rows(
        org.parent / "licensewatch.db",
        "select resource_id from resource_state where subject = 'carol@contoso.org'",
    )
    answer = write(tmp_path, HEADER + f"{carol[0]},,remove,,\n")
    clock = lambda: datetime(2020, 1, 2, 9, 0, tzinfo=UTC)  # noqa: E731
    said = io.StringIO()
    for _ in range(3):
        assert (
            decisions_import(
                org,
                answer,
                department="Legal",
                as_of=date(2020, 1, 2),
                date_format="iso",
                clock=clock,
                out=said,
            )
            == 0
        )
    recorded = rows(
        org.parent / "licensewatch.db",
        "select decided_by, source, message_id, length(file_digest) from decisions",
    )
    assert recorded == [(f"operator ({operator()})", "operator", None, 64)]
    assert said.getvalue().count("already recorded for Legal on 2020-01-02 09:00 UTC") == 2
