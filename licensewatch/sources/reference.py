"""The organization's reference files: focal points, exemptions and the rate card.

Each reader returns its canonical frame (``licensewatch.model``) or raises
:class:`~licensewatch.errors.InputError` listing every problem of the file
with its row and column. These files are small; their checks favour clear
messages over speed.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from itertools import combinations
from pathlib import Path
from typing import Final, NamedTuple

import pandas as pd

from licensewatch import model
from licensewatch.rules.pricing import MAX_ANNUAL_RATE_CENTS
from licensewatch.sources.tabular.table import ProblemLog, read_table, split_list

LANGUAGES: Final = ("en", "fr")
DEFAULT_LANGUAGE: Final = "en"
#: The highest ``annual_rate_usd`` a rate card may hold (USD 1,000,000.00 per unit per year).
MAX_ANNUAL_RATE_USD: Final = Decimal(MAX_ANNUAL_RATE_CENTS).scaleb(-2)
#: local@domain.tld, nothing that would let one cell smuggle in another header or address.
_ADDRESS = re.compile(r"[^@\s;,<>\"']+@[^@\s;,<>\"'.]+(?:\.[^@\s;,<>\"'.]+)+")


def read_focal_points(path: Path) -> pd.DataFrame:
    """Read the focal points: one row per department (``FOCAL_POINTS``).

    ``email``, ``cc`` and ``delegates`` may hold several addresses separated by
    ';' or ','; they come back joined by ';'. ``language`` is "en" (the default)
    or "fr". ``delegates`` are people who may answer for the department without
    receiving its notices.
    """
    log = ProblemLog(str(path))
    table = read_table(
        path,
        required=("department", "email"),
        optional=("name", "cc", "language", "delegates"),
        nonempty=("department", "email"),
        unique="department",
        problems=log,
    )
    for column in ("email", "cc", "delegates"):
        table[column] = _addresses(table[column], column, log)
    language = table["language"].str.casefold().fillna(DEFAULT_LANGUAGE)
    log.add_rows(
        ~language.isin(LANGUAGES),
        "language",
        lambda row: f"{table['language'][row]!r} is not a language; use one of {LANGUAGES}",
    )
    table["language"] = language
    log.raise_if_any()
    return model.conform(table, model.FOCAL_POINTS)


def _addresses(cells: pd.Series, column: str, log: ProblemLog) -> pd.Series:
    out: list[str | None] = []
    for row, cell in zip(cells.index, cells, strict=True):
        addresses = split_list(cell)
        for address in addresses:
            if not _ADDRESS.fullmatch(address):
                log.add(
                    f"{address!r} is not an email address like name@example.org", int(row), column
                )
        out.append(";".join(addresses) or None)
    return pd.Series(out, index=cells.index, dtype=model.STRING)


def read_exemptions(path: Path, today: pd.Timestamp | None = None) -> pd.DataFrame:
    """Read the exemptions: dated exceptions a focal point justified (``EXEMPTIONS``).

    ``subject`` is a UPN or a device name; it may appear once (case-folded).
    ``expires_on`` is the last day the exemption holds; given ``today`` (UTC
    midnight of the day the file is read, not the day a run assesses), it may
    be at most a year after it, so that every exemption is looked at again at
    least once a year. Whether an exemption is in force on a run's as-of day
    is for reconcile to say, so re-running an earlier day reads the same file.
    """
    log = ProblemLog(str(path))
    columns = ("subject", "reason", "approved_by", "expires_on")
    table = read_table(
        path,
        required=columns,
        dates=("expires_on",),
        nonempty=columns,
        unique="subject",
        problems=log,
    )
    if today is not None:
        limit = today + pd.DateOffset(years=1)
        log.add_rows(
            table["expires_on"] > limit,
            "expires_on",
            lambda row: (
                f"{table['expires_on'][row].date()} is more than a year after "
                f"{today.date()}; an exemption may run until {limit.date()} at most"
            ),
        )
    log.raise_if_any()
    return model.conform(table, model.EXEMPTIONS)


class _Rate(NamedTuple):
    row: int
    item: str
    kind: str
    keys: tuple[str, ...]
    start: pd.Timestamp
    end: pd.Timestamp | None


def read_rate_card(path: Path) -> pd.DataFrame:
    """Read the effective-dated rate card (``RATE_CARD``).

    ``annual_rate_usd`` is a decimal in dollars (at most two decimal places,
    from 0 to :data:`MAX_ANNUAL_RATE_USD` per unit per year), stored as
    integer cents. ``effective_to`` is the last day a rate applies;
    empty means open-ended. An item may not have overlapping periods, and no
    SKU part number or phone model (or "*") may be priced by two items at once.
    """
    log = ProblemLog(str(path))
    table = read_table(
        path,
        required=(
            "item",
            "description",
            "resource_kind",
            "matches",
            "annual_rate_usd",
            "effective_from",
        ),
        optional=("effective_to",),
        dates=("effective_from", "effective_to"),
        nonempty=(
            "item",
            "description",
            "resource_kind",
            "matches",
            "annual_rate_usd",
            "effective_from",
        ),
        problems=log,
    )
    kinds = table["resource_kind"].str.casefold()
    known_kinds = [k.value for k in model.ResourceKind]
    log.add_rows(
        table["resource_kind"].notna() & ~kinds.isin(known_kinds),
        "resource_kind",
        lambda row: f"{table['resource_kind'][row]!r} is not one of {', '.join(known_kinds)}",
    )
    table["resource_kind"] = kinds
    cents: dict[int, int] = {}
    matches: dict[int, str | None] = {}
    rates: list[_Rate] = []
    for row, rec in table.iterrows():
        r = int(str(row))
        keys = _match_keys(rec["matches"], r, log)
        matches[r] = ";".join(keys) or None
        cents[r] = _cents(rec["annual_rate_usd"], r, log)
        start, end = rec["effective_from"], rec["effective_to"]
        if pd.notna(start) and pd.notna(end) and end < start:
            log.add(f"{end.date()} is before effective_from {start.date()}", r, "effective_to")
        elif pd.notna(start) and pd.notna(rec["item"]) and rec["resource_kind"] in known_kinds:
            item, kind = str(rec["item"]).casefold(), str(rec["resource_kind"])
            if keys:
                rates.append(_Rate(r, item, kind, keys, start, end if pd.notna(end) else None))
    _check_overlaps(rates, table, log)
    table["matches"] = pd.Series(matches, dtype=model.STRING)
    table["annual_rate_cents"] = pd.Series(cents, dtype=model.INT)
    log.raise_if_any()
    return model.conform(table, model.RATE_CARD)


def _match_keys(cell: object, row: int, log: ProblemLog) -> tuple[str, ...]:
    if not isinstance(cell, str):
        return ()
    keys = tuple(k.strip() for k in cell.split(";") if k.strip())
    if "*" in keys and len(keys) > 1:
        log.add("'*' (everything no other item matches) must stand alone", row, "matches")
    return keys


def _cents(cell: object, row: int, log: ProblemLog) -> int:
    if not isinstance(cell, str):
        return 0
    try:
        dollars = Decimal(cell)
    except InvalidOperation:
        dollars = Decimal("NaN")
    if not dollars.is_finite():
        log.add(f"{cell!r} is not an amount in dollars like 189.60", row, "annual_rate_usd")
    elif dollars < 0:
        log.add(f"{cell!r} is negative", row, "annual_rate_usd")
    elif dollars > MAX_ANNUAL_RATE_USD:
        # Checked before any arithmetic: 1e50 % 1 would not even be computable.
        log.add(
            f"{cell!r} is above the highest rate licensewatch accepts, "
            f"USD {MAX_ANNUAL_RATE_USD:,.2f} per unit per year",
            row,
            "annual_rate_usd",
        )
    elif (dollars * 100) % 1 != 0:
        log.add(f"{cell!r} has more than 2 decimal places", row, "annual_rate_usd")
    else:
        return int(dollars * 100)
    return 0


def _overlap(a: _Rate, b: _Rate) -> bool:
    return (a.end is None or b.start <= a.end) and (b.end is None or a.start <= b.end)


def _period(rate: _Rate) -> str:
    return f"{rate.start.date()} to {rate.end.date() if rate.end is not None else 'open-ended'}"


def _check_overlaps(rates: list[_Rate], table: pd.DataFrame, log: ProblemLog) -> None:
    for a, b in combinations(rates, 2):
        if not _overlap(a, b):
            continue
        if a.item == b.item:
            log.add(
                f"item {table['item'][b.row]!r} has a period ({_period(b)}) overlapping "
                f"row {a.row} ({_period(a)})",
                b.row,
                "effective_from",
            )
            continue
        if a.kind != b.kind:
            continue
        folded = {k.casefold() for k in a.keys}
        for key in b.keys:
            if key.casefold() in folded:
                log.add(
                    f"{key!r} is priced by both {table['item'][a.row]!r} (row {a.row}) and "
                    f"{table['item'][b.row]!r} in overlapping periods; pricing must be unambiguous",
                    b.row,
                    "matches",
                )
