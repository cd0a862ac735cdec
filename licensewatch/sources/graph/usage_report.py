"""The Microsoft 365 active-user report as an activity signal, for tenants without Entra ID P1/P2.

``GET /reports/getOffice365ActiveUserDetail(period='D180')`` is a CSV (often
with a BOM) with one row per user: "User Principal Name", "Is Deleted", the
"Has … License" flags and one "… Last Activity Date" per workload (Exchange,
OneDrive, SharePoint, Skype For Business, Yammer, Teams), each "YYYY-MM-DD" or
empty. A user's activity is the latest of those dates. Pure: bytes in, frames
out; no clock, no I/O.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

import pandas as pd

from licensewatch import model
from licensewatch.errors import InputError, Problem, SourceError

UPN = "User Principal Name"
IS_DELETED = "Is Deleted"
REFRESH_DATE = "Report Refresh Date"
ACTIVITY_SUFFIX = " Last Activity Date"
MAX_PROBLEMS = 50

#: Where an administrator turns concealed names off (Microsoft 365 admin center).
CONCEALED_SETTING = (
    "in the Microsoft 365 admin center, go to Settings > Org settings > Services > Reports and "
    'select "Display concealed user, group, and site names in all reports", then run again'
)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_BOOLEANS = {"true": True, "false": False, "": None}


@dataclass(frozen=True)
class UsageActivity:
    """Latest activity per user from one report.

    ``last_activity`` is indexed by the case-folded UPN (unique) with UTC
    timestamps at 00:00 of the last active day; NaT means no activity in the
    report period. ``refreshed_on`` is the report's refresh date, if given.
    """

    last_activity: pd.Series
    refreshed_on: pd.Timestamp | None
    rows: int


def _is_license_column(name: str) -> bool:
    return name.startswith("Has ") and name.endswith(" License")


def parse_usage_report(data: bytes | str, *, name: str = "usage_report.csv") -> UsageActivity:
    """Parse a getOffice365ActiveUserDetail CSV; ``name`` is used in error messages.

    Raises ``SourceError`` when user names are concealed (hashed) and
    ``InputError`` (every problem with row and column, up to 50) when the CSV is
    not in the documented shape.
    """
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise InputError.single(name, f"not UTF-8 text (byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    _check_header(name, header)
    activity_columns = [h for h in header if h.endswith(ACTIVITY_SUFFIX)]
    flag_columns = [h for h in header if h == IS_DELETED or _is_license_column(h)]
    problems: list[Problem] = []
    latest: dict[str, str] = {}
    concealed: list[str] = []
    refreshed: set[str] = set()
    rows = 0
    for rows, row in enumerate(reader, start=1):
        line = rows + 1  # the header is row 1
        upn = (row.get(UPN) or "").strip()
        if not upn:
            problems.append(Problem(name, "empty user principal name", line, UPN))
            continue
        if "@" not in upn:
            concealed.append(upn)
            continue
        flags = {c: _flag(name, line, c, row.get(c), problems) for c in flag_columns}
        dates = [_date(name, line, c, row.get(c), problems) for c in activity_columns]
        if row.get(REFRESH_DATE):
            refreshed.add(str(row[REFRESH_DATE]).strip())
        if flags.get(IS_DELETED):
            continue  # a deleted user's activity says nothing about a live account of that name
        key = model.fold_key(upn)
        last = max((d for d in dates if d), default="")
        latest[key] = max(latest.get(key, ""), last)
    if concealed:
        raise SourceError(
            f"{name}: the Microsoft 365 usage report conceals user names ({len(concealed)} of "
            f"{rows} rows have a hashed name such as {concealed[0][:12]}…), so activity cannot "
            "be matched to accounts",
            hint=CONCEALED_SETTING,
        )
    if problems:
        raise InputError(problems[:MAX_PROBLEMS])
    return UsageActivity(
        last_activity=_series(latest),
        refreshed_on=_refresh_date(refreshed),
        rows=rows,
    )


def _check_header(name: str, header: list[str]) -> None:
    if not header:
        raise InputError.single(name, "empty file: no header row")
    missing = [] if UPN in header else [UPN]
    if not any(h.endswith(ACTIVITY_SUFFIX) for h in header):
        missing.append(f"*{ACTIVITY_SUFFIX}")
    if missing:
        raise InputError(
            [Problem(name, "missing column of getOffice365ActiveUserDetail", 1, m) for m in missing]
        )


def _date(name: str, line: int, column: str, value: str | None, problems: list[Problem]) -> str:
    text = (value or "").strip()
    if not text:
        return ""
    if _DATE.fullmatch(text):
        try:
            pd.Timestamp(text)
            return text
        except ValueError:
            pass
    problems.append(Problem(name, f"{text!r} is not a date (YYYY-MM-DD)", line, column))
    return ""


def _flag(
    name: str, line: int, column: str, value: str | None, problems: list[Problem]
) -> bool | None:
    text = (value or "").strip().casefold()
    if text not in _BOOLEANS:
        problems.append(Problem(name, f"{value!r} is not True or False", line, column))
        return None
    return _BOOLEANS[text]


def _series(latest: dict[str, str]) -> pd.Series:
    index = pd.Index(list(latest), dtype=model.STRING, name="upn_key")
    values = pd.to_datetime(
        pd.Series([v or None for v in latest.values()], dtype="object"), format="%Y-%m-%d", utc=True
    )
    return pd.Series(values.to_numpy(), index=index, name="last_activity_at").astype(model.DATETIME)


def _refresh_date(values: set[str]) -> pd.Timestamp | None:
    dated = sorted(v for v in values if _DATE.fullmatch(v))
    return pd.Timestamp(dated[-1], tz="UTC") if dated else None


def apply_usage_activity(accounts: pd.DataFrame, last_activity: pd.Series) -> pd.DataFrame:
    """The accounts frame with report activity as interactive and successful sign-in.

    Matched on the case-folded UPN; where the frame already has a later
    timestamp it is kept. ``last_noninteractive_at`` is left as it is: the
    report does not tell interactive from non-interactive use.
    """
    keys = model.norm_key(accounts["upn"]).fillna("")
    mapped = pd.Series(
        last_activity.reindex(pd.Index(keys, dtype=model.STRING)).to_numpy(),
        index=accounts.index,
        dtype=model.DATETIME,
    )
    out = accounts.copy()
    for column in ("last_interactive_at", "last_successful_at"):
        both = pd.concat([out[column].astype(model.DATETIME), mapped], axis=1)
        out[column] = both.max(axis=1, skipna=True).astype(model.DATETIME)
    return model.conform(out, model.ACCOUNTS)
