"""Dates in HR extracts: ISO always; day-first or month-first when configured; never guessed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from licensewatch.errors import InputError
from licensewatch.sources.tabular.dates import (
    DAY_FIRST,
    MONTH_FIRST,
    DateFormat,
    date_problem,
    parse_dates,
    parse_timestamps,
)
from licensewatch.sources.tabular.table import TableOptions, read_table

WHERE = "[sources.separations]"
UTC = "UTC"


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


def dates(values: list[str | None], fmt: DateFormat) -> tuple[list[object], list[bool]]:
    parsed, bad = parse_dates(pd.Series(values, dtype="string"), fmt)
    return [None if pd.isna(v) else v for v in parsed], bad.tolist()


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("03/04/2019", DAY_FIRST, "2019-04-03"),
        ("03/04/2019", MONTH_FIRST, "2019-03-04"),
        ("3/4/2019", DAY_FIRST, "2019-04-03"),
        ("03.04.2019", DAY_FIRST, "2019-04-03"),
        ("03-04-2019", DAY_FIRST, "2019-04-03"),
        ("31/12/2019 00:00", DAY_FIRST, "2019-12-31"),
        ("31/12/2019 00:00:00", DAY_FIRST, "2019-12-31"),
        ("12/31/2019", MONTH_FIRST, "2019-12-31"),
        ("2019-04-03", DAY_FIRST, "2019-04-03"),  # ISO is always read
        ("2019-04-03", MONTH_FIRST, "2019-04-03"),
    ],
)
def test_configured_order(text: str, order: str, expected: str) -> None:
    assert dates([text], DateFormat(order, WHERE)) == ([day(expected)], [False])


@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("31/12/2019", MONTH_FIRST),  # month 31
        ("12/31/2019", DAY_FIRST),
        ("31/02/2019", DAY_FIRST),  # no 31 February
        ("03/04/19", DAY_FIRST),  # a two-digit year is never guessed
        ("03/04-2019", DAY_FIRST),  # mixed separators
        ("31/12/2019 17:30", DAY_FIRST),  # a date with a time of day is not a date
        ("3 April 2019", DAY_FIRST),
    ],
)
def test_invalid_for_the_configured_order(text: str, order: str) -> None:
    assert dates([text], DateFormat(order, WHERE)) == ([None], [True])


def test_without_a_configured_order_only_iso_is_read() -> None:
    assert dates(
        ["03/04/2019", "31/12/2019", "2019-12-31", None, ""], DateFormat("iso", WHERE)
    ) == (
        [None, None, day("2019-12-31"), None, None],
        [True, True, False, False, False],
    )


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        (
            "03/04/2019",
            DateFormat("iso", WHERE),
            "'03/04/2019' is ambiguous (3 April 2019 or 4 March 2019): "
            'set date_format = "day-first" or "month-first" in [sources.separations]',
        ),
        (
            "31/12/2019",
            DateFormat("iso", WHERE),
            "'31/12/2019' is not a date like 2019-12-31; it is written day-first: "
            'set date_format = "day-first" in [sources.separations]',
        ),
        (
            "12/31/2019",
            DateFormat("iso", WHERE),
            "'12/31/2019' is not a date like 2019-12-31; it is written month-first: "
            'set date_format = "month-first" in [sources.separations]',
        ),
        (
            "05/05/2019",
            DateFormat("iso", WHERE),
            "'05/05/2019' is not a date like 2019-12-31; for dates like 31/12/2019 set "
            'date_format = "day-first" or "month-first" in [sources.separations]',
        ),
        ("03/04/2019", DateFormat(), "'03/04/2019' is not a date like 2019-12-31"),
        ("soon", DateFormat("iso", WHERE), "'soon' is not a date like 2019-12-31"),
        (
            "12/31/2019",
            DateFormat(DAY_FIRST, WHERE),
            "'12/31/2019' is not a date like 2019-12-31 or a day-first one like 31/12/2019",
        ),
        (
            "31/12/2019",
            DateFormat(MONTH_FIRST, WHERE),
            "'31/12/2019' is not a date like 2019-12-31 or a month-first one like 12/31/2019",
        ),
    ],
)
def test_messages_say_what_to_set(text: str, fmt: DateFormat, message: str) -> None:
    assert date_problem(text, fmt) == message


def test_timestamps_with_a_configured_order() -> None:
    values = pd.Series(
        ["31/12/2019 08:30", "31/12/2019", "2019-12-31T08:30:00Z", "1/2/2019 8:05:09"]
    )
    parsed, bad = parse_timestamps(values.astype("string"), DateFormat(DAY_FIRST, WHERE))
    assert not bad.any()
    assert parsed.tolist() == [
        day("2019-12-31T08:30"),
        day("2019-12-31"),
        day("2019-12-31T08:30"),
        day("2019-02-01T08:05:09"),
    ]
    assert date_problem("31/12/2019 08:30", DateFormat("iso", WHERE), timestamp=True) == (
        "'31/12/2019 08:30' is not a date-time like 2019-12-31T08:30:00Z; it is written "
        'day-first: set date_format = "day-first" in [sources.separations]'
    )


def test_read_table_names_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("id,when\nA,03/04/2019\nB,2019-04-03\nC,03/31/2019\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_table(
            path, required=("id", "when"), dates=("when",), options=TableOptions(where=WHERE)
        )
    assert [str(p) for p in exc.value.problems] == [
        f"{path}, row 2, column 'when': '03/04/2019' is ambiguous (3 April 2019 or 4 March "
        '2019): set date_format = "day-first" or "month-first" in [sources.separations]',
        f"{path}, row 4, column 'when': '03/31/2019' is not a date like 2019-12-31; it is "
        'written month-first: set date_format = "month-first" in [sources.separations]',
    ]
    table = read_table(
        path,
        required=("id", "when"),
        dates=("when",),
        options=TableOptions(date_format=MONTH_FIRST, where=WHERE),
    )
    assert table["when"].tolist() == [day("2019-03-04"), day("2019-04-03"), day("2019-03-31")]
