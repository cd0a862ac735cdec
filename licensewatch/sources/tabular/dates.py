"""Dates and date-times in input cells: ISO 8601 always, day-first or month-first when configured.

An HR extract may write 3 April 2019 as "2019-04-03", "03/04/2019" or
"04/03/2019". The ISO form is always read. A numeric date such as
"03/04/2019" is read only when the source's ``date_format`` says which
comes first ("day-first" or "month-first"): it is never guessed, and the
message about it says which key to set. Parsing is vectorised; messages are
built only for bad cells.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from typing import Final

import pandas as pd

from licensewatch import model
from licensewatch.errors import ConfigError

ISO: Final = "iso"
DAY_FIRST: Final = "day-first"
MONTH_FIRST: Final = "month-first"
FORMATS: Final = (ISO, DAY_FIRST, MONTH_FIRST)

# A full date has 10 characters; shorter text ("now", "today") would make pandas read the clock.
_SHORTEST_TIMESTAMP = 10
# Spreadsheet exports often write a date as "2019-12-31 00:00:00"; any other time is not a date.
_ISO_DATE = r"\d{4}-\d{2}-\d{2}(?:[T ]00:00(?::00(?:\.0+)?)?)?"
# "3/4/2019", "03.04.2019", "03-04-2019 17:30": two parts of one or two digits, a 4-digit year.
_NUMERIC = r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?"
_NUMERIC_RE: Final = re.compile(_NUMERIC)
DATE_EXAMPLE: Final = "a date like 2019-12-31"
TIMESTAMP_EXAMPLE: Final = "a date-time like 2019-12-31T08:30:00Z"


@dataclass(frozen=True)
class DateFormat:
    """How a source writes numeric dates, and where that is configured.

    ``where`` names the config table (e.g. "[sources.separations]") so that a
    message can say which key to set; ``None`` for files with no options,
    which are read as ISO only.
    """

    order: str = ISO
    where: str | None = None


def date_format_option(value: str, where: str) -> DateFormat:
    """The ``date_format`` option of ``where``, checked."""
    order = value.strip().casefold()
    if order not in FORMATS:
        raise ConfigError(
            f"{where} date_format must be one of {', '.join(FORMATS)}, not {value!r}",
            hint='with "day-first", 03/04/2019 is 3 April 2019; ISO dates are always read',
        )
    return DateFormat(order, where)


def _text(values: pd.Series) -> pd.Series:
    text = values.astype(model.STRING).str.strip()
    return text.mask(text == "")


def _numeric(text: pd.Series, fmt: DateFormat, *, dates: bool) -> pd.Series:
    """Numeric day-first/month-first cells parsed as naive-UTC instants (NaT elsewhere)."""
    parts = text.str.extract(f"^{_NUMERIC}$")
    first, second = (parts[0], parts[2]) if fmt.order == DAY_FIRST else (parts[2], parts[0])
    hour, minute, second_ = (parts[i].fillna("0").str.zfill(2) for i in (4, 5, 6))
    iso = (
        parts[3] + "-" + second.str.zfill(2) + "-" + first.str.zfill(2)
        + "T" + hour + ":" + minute + ":" + second_
    )  # fmt: skip
    if dates:
        iso = iso.where(iso.str.endswith("T00:00:00"))
    return pd.to_datetime(iso, format="%Y-%m-%dT%H:%M:%S", utc=True, errors="coerce")


def parse_timestamps(
    values: pd.Series, fmt: DateFormat = DateFormat()
) -> tuple[pd.Series, pd.Series]:
    """ISO 8601 dates or date-times (``Z``/offset; naive means UTC) → UTC timestamps.

    Returns the parsed ``datetime64[us, UTC]`` series (NaT where empty or bad)
    and a boolean mask of the values that are present but not parseable.
    Text shorter than a full date is rejected before pandas sees it, so words
    like "now" never read the clock. With a day-first or month-first ``fmt``,
    numeric date-times such as "31/12/2019 08:30" are read too (as UTC).
    """
    text = _text(values)
    candidates = text.where(text.str.len() >= _SHORTEST_TIMESTAMP)
    parsed = pd.to_datetime(candidates, format="ISO8601", utc=True, errors="coerce")
    parsed = parsed.astype(model.DATETIME)
    bad = text.notna().to_numpy(dtype=bool) & parsed.isna().to_numpy()
    if bad.any():
        # Lower-case "t"/"z" separators are valid ISO 8601 that pandas refuses; retry only those.
        retry = candidates[bad].str.upper()
        parsed[bad] = pd.to_datetime(retry, format="ISO8601", utc=True, errors="coerce")
        bad = text.notna().to_numpy(dtype=bool) & parsed.isna().to_numpy()
    if bad.any() and fmt.order != ISO:
        parsed[bad] = _numeric(text[bad], fmt, dates=False)
        bad = text.notna().to_numpy(dtype=bool) & parsed.isna().to_numpy()
    return parsed, pd.Series(bad, index=values.index)


def parse_dates(values: pd.Series, fmt: DateFormat = DateFormat()) -> tuple[pd.Series, pd.Series]:
    """Calendar dates ("2019-12-31") → UTC midnight; returns parsed series and bad-value mask.

    With a day-first or month-first ``fmt``, numeric dates ("31/12/2019") are read too.
    """
    text = _text(values)
    looks_date = text.str.fullmatch(_ISO_DATE).fillna(False).astype(bool)
    parsed = pd.to_datetime(
        text.where(looks_date).str.slice(0, 10), format="%Y-%m-%d", utc=True, errors="coerce"
    ).astype(model.DATETIME)
    bad = text.notna().to_numpy(dtype=bool) & parsed.isna().to_numpy()
    if bad.any() and fmt.order != ISO:
        parsed[bad] = _numeric(text[bad], fmt, dates=True)
        bad = text.notna().to_numpy(dtype=bool) & parsed.isna().to_numpy()
    return parsed, pd.Series(bad, index=values.index)


def _spelled(day: int, month: int, year: str) -> str:
    return f"{day} {calendar.month_name[month]} {year}"


def date_problem(value: str, fmt: DateFormat, *, timestamp: bool = False) -> str:
    """Why ``value`` was not read as a date (or date-time), and how to fix it."""
    example = TIMESTAMP_EXAMPLE if timestamp else DATE_EXAMPLE
    found = _NUMERIC_RE.fullmatch(value.strip())
    if fmt.order != ISO:
        like = "31/12/2019" if fmt.order == DAY_FIRST else "12/31/2019"
        if timestamp:
            like += " 08:30"
        return f"{value!r} is not {example} or a {fmt.order} one like {like}"
    if found is None or fmt.where is None:
        return f"{value!r} is not {example}"
    a, b, year = int(found[1]), int(found[3]), found[4]
    setting = f"in {fmt.where}"
    if 1 <= a <= 12 and 1 <= b <= 12 and a != b:
        return (
            f"{value!r} is ambiguous ({_spelled(a, b, year)} or {_spelled(b, a, year)}): "
            f'set date_format = "day-first" or "month-first" {setting}'
        )
    if 12 < a <= 31 and 1 <= b <= 12:
        order = "day-first"
    elif 12 < b <= 31 and 1 <= a <= 12:
        order = "month-first"
    else:
        return (
            f"{value!r} is not {example}; for dates like 31/12/2019 set date_format = "
            f'"day-first" or "month-first" {setting}'
        )
    return (
        f'{value!r} is not {example}; it is written {order}: set date_format = "{order}" {setting}'
    )
