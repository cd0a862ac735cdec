"""separations sql: a read-only SELECT on the HR database, against SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from licensewatch import model
from licensewatch.config import SourceSettings
from licensewatch.errors import ConfigError, InputError, SourceError, SourceUnavailable
from licensewatch.sources import separations_source
from licensewatch.sources.hr.sql import SeparationsSqlSource
from licensewatch.sources.tabular import text as textfile
from tests.sources.hr.conftest import HrDatabase

VARIABLE = "LW_TEST_HR_URL"
QUERY = (
    'SELECT index_number AS "Index Number", mail, full_name, org_unit, sep_date, sep_reason '
    "FROM hr_leavers ORDER BY index_number"
)
COLUMNS = {
    "Index Number": "employee_id",
    "mail": "email",
    "full_name": "name",
    "org_unit": "department",
    "sep_date": "separation_date",
    "sep_reason": "reason",
}


def source(query: str = QUERY, **options: Any) -> SeparationsSqlSource:
    settings = SourceSettings(
        "separations",
        "sql",
        {"url_env": VARIABLE, "query": query, "columns": COLUMNS, **options},
        Path("."),
    )
    built = separations_source(settings)
    assert isinstance(built, SeparationsSqlSource)
    return built


@pytest.fixture
def hr(hr_db: HrDatabase, monkeypatch: pytest.MonkeyPatch) -> HrDatabase:
    monkeypatch.setenv(VARIABLE, hr_db.url)
    return hr_db


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_reads_renamed_columns_into_the_canonical_frame(hr: HrDatabase) -> None:
    frame = source().pull().separations
    assert {c: str(t) for c, t in frame.dtypes.items()} == model.SEPARATIONS
    assert frame["employee_id"].tolist() == ["1003", "1004"]
    assert frame["email"].tolist()[0] == "AlexW@contoso.com" and pd.isna(frame["email"][1])
    assert frame["separation_date"].tolist() == [day("2019-11-30"), day("2019-12-31")]
    assert frame["department"].tolist() == ["Marketing", "Legal"]
    assert frame["reason"].tolist() == ["Resignation", "End of contract"]


def test_text_dates_follow_date_format(hr: HrDatabase) -> None:
    query = "SELECT index_number, sep_text FROM hr_leavers ORDER BY index_number"
    columns = {"index_number": "employee_id", "sep_text": "separation_date"}
    frame = source(query, columns=columns, date_format="day-first").pull().separations
    assert frame["separation_date"].tolist() == [day("2019-11-30"), day("2019-12-31")]
    with pytest.raises(InputError) as exc:
        source(query, columns=columns).pull()
    assert [str(p) for p in exc.value.problems] == [
        "[sources.separations] query, row 1, column 'sep_text': '30/11/2019' is not a date like "
        '2019-12-31; it is written day-first: set date_format = "day-first" in '
        "[sources.separations]",
        "[sources.separations] query, row 2, column 'sep_text': '31/12/2019' is not a date like "
        '2019-12-31; it is written day-first: set date_format = "day-first" in '
        "[sources.separations]",
    ]


def test_missing_column_names_the_query_not_a_row(hr: HrDatabase) -> None:
    with pytest.raises(InputError) as exc:
        source("SELECT index_number FROM hr_leavers", columns={}).pull()
    assert [str(p) for p in exc.value.problems] == [
        "[sources.separations] query, column 'separation_date': required column "
        "'separation_date' is missing",
        "[sources.separations] query, column 'employee_id': needs at least one of the columns "
        "'employee_id', 'email'",
    ]


def test_an_empty_result_is_an_empty_frame(hr: HrDatabase) -> None:
    frame = source(QUERY.replace("ORDER BY", "WHERE 1 = 0 ORDER BY")).pull().separations
    assert frame.empty and list(frame.columns) == list(model.SEPARATIONS)


def test_a_result_past_the_row_bound_is_refused(
    hr: HrDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(textfile, "MAX_ROWS", 2)
    assert len(source().pull().separations) == 2
    monkeypatch.setattr(textfile, "MAX_ROWS", 1)
    with pytest.raises(InputError) as exc:
        source().pull()
    assert [str(p) for p in exc.value.problems] == [
        "[sources.separations] query, row 2: returned more than 1 rows, the most a feed may have"
    ]


WRITES = [
    "DELETE FROM hr_leavers",
    "UPDATE hr_leavers SET org_unit = 'x'",
    "CREATE TABLE sneaky (a INTEGER)",
]


@pytest.mark.parametrize("statement", WRITES)
def test_the_database_refuses_writes(hr: HrDatabase, statement: str) -> None:
    # Past the config check on purpose: the database itself must refuse.
    reader = source()
    reader.query = statement
    with pytest.raises(SourceError) as exc:
        reader.pull()
    message = exc.value.message
    assert message.startswith("the query of [sources.separations] failed: ")
    assert ("read-only transaction" if hr.backend == "postgresql" else "readonly") in message
    assert hr.count() == 2


def test_a_select_that_smuggles_a_write_fails(hr: HrDatabase) -> None:
    smuggled = (
        "WITH gone AS (DELETE FROM hr_leavers RETURNING *) SELECT * FROM gone"
        if hr.backend == "postgresql"
        else "SELECT * FROM hr_leavers; DELETE FROM hr_leavers"
    )
    with pytest.raises(SourceError):
        source(smuggled).pull()
    assert hr.count() == 2


def test_sql_errors_carry_the_database_message_and_never_the_url(hr: HrDatabase) -> None:
    with pytest.raises(SourceError) as exc:
        source("SELECT * FROM no_such_table").pull()
    assert not isinstance(exc.value, SourceUnavailable)
    assert "no_such_table" in exc.value.message
    assert hr.url not in exc.value.one_line()


def test_unreachable_postgresql_is_unavailable_and_hides_the_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "postgresql+psycopg://hr_reader:s3cret-pw@127.0.0.1:1/erp?connect_timeout=2"
    monkeypatch.setenv(VARIABLE, url)
    reader = source()
    reader.check()  # checks URL and driver without connecting
    with pytest.raises(SourceUnavailable) as exc:
        reader.pull()
    line = exc.value.one_line()
    assert line.startswith(f"cannot connect to the HR database in {VARIABLE}: ")
    assert "s3cret-pw" not in line and "hr_reader" not in line and url not in line


def test_missing_sqlite_file_is_unavailable_and_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "hr.db"
    monkeypatch.setenv(VARIABLE, f"sqlite:///{missing}")
    with pytest.raises(SourceUnavailable):
        source().pull()
    assert not missing.exists()


@pytest.mark.postgres
def test_statement_timeout_on_postgresql(
    hr_pg_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, hr_pg_server)
    with pytest.raises(SourceError) as exc:
        source("SELECT pg_sleep(3), 'x' AS separation_date", timeout_s=1, columns={}).pull()
    assert "statement timeout" in exc.value.message


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        (None, f"[sources.separations] url_env names {VARIABLE}, which is not set"),
        ("   ", f"[sources.separations] url_env names {VARIABLE}, which is not set"),
        (
            "not a url at all",
            f"{VARIABLE} (named by url_env in [sources.separations]) does not hold a database URL",
        ),
    ],
)
def test_url_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, environment: str | None, message: str
) -> None:
    if environment is None:
        monkeypatch.delenv(VARIABLE, raising=False)
    else:
        monkeypatch.setenv(VARIABLE, environment)
    with pytest.raises(ConfigError) as exc:
        source().check()
    assert exc.value.message == message


def test_no_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, "firebird://hr:pw@host/erp")
    with pytest.raises(ConfigError) as exc:
        source().check()
    assert exc.value.message.startswith(f"no database driver for the URL in {VARIABLE} (firebird)")
    assert "pw@" not in exc.value.message


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"query": "DELETE FROM hr_leavers"},
            "[sources.separations] query must be a SELECT (or WITH … SELECT)",
        ),
        (
            {"timeout_s": 0},
            "[sources.separations] timeout_s must be a whole number of seconds above 0",
        ),
        (
            {"timeout_s": "60"},
            "[sources.separations] timeout_s must be a whole number of seconds above 0",
        ),
        (
            {"url": "postgresql://x"},
            "unknown key 'url' in [sources.separations] (kind 'sql'); valid keys are: kind, "
            "url_env, query, date_format, columns, timeout_s",
        ),
    ],
)
def test_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        source(**options)
    assert exc.value.message == message


def test_comments_before_select_are_fine() -> None:
    assert source("-- leavers\n/* view */ SELECT 1").query.endswith("SELECT 1")
