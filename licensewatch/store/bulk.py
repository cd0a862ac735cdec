"""Bulk inserts for the large tables: ``COPY`` on PostgreSQL, the driver's executemany on SQLite.

SQLAlchemy's ``session.execute(insert(table), [dict, ...])`` processes every
value of every row in Python before the driver sees it: 3.3 s for the 200,000
findings of a 1M night that the driver alone writes in about 1 s. Here each
column's values go through the column type's own bind processor once (so a
``UTCDateTime`` is stored exactly as through SQLAlchemy: naive UTC text on
SQLite, ``timestamptz`` on PostgreSQL), then the rows go to the database in one
``COPY … FROM STDIN`` (psycopg) or one DBAPI ``executemany`` (sqlite3). Other
drivers take SQLAlchemy's own path. Everything runs on the session's
connection, inside its transaction.

A column of UTC timestamps (:class:`~licensewatch.store.tables.UTCDateTime`)
skips the per-value processor: numpy writes the text the backend stores
(SQLite: SQLAlchemy's own ``YYYY-MM-DD HH:MM:SS.ffffff`` of the UTC instant;
PostgreSQL: the same with ``+00:00``, which ``COPY`` parses as
``timestamptz``), a million values in a fraction of a second instead of
several seconds. :func:`select_frame` reads the other way: the driver's rows,
then each timestamp column parsed by pandas at once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
from sqlalchemy import Select, Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from licensewatch import model
from licensewatch.store import _frames
from licensewatch.store.tables import UTCDateTime

#: The drivers with a fast path here; others take SQLAlchemy's.
_FAST: Final = (("sqlite", "pysqlite"), ("postgresql", "psycopg"))
#: len("2019-12-31 00:00:00.000000"): what SQLAlchemy stores for a DATETIME on SQLite.
_STAMP_WIDTH: Final = 26
_PG_ZONE: Final = "+00:00"


def insert_frame(
    session: Session,
    table: Table,
    frame: pd.DataFrame,
    columns: Sequence[str],
    constants: Mapping[str, Any] | None = None,
) -> None:
    """Insert ``frame``'s ``columns`` (plus ``constants`` in every row) into ``table``.

    :data:`INSERT_CHUNK` rows at a time, all in the session's transaction.
    """
    dialect = session.get_bind().dialect
    for start in range(0, len(frame), INSERT_CHUNK):
        part = frame.iloc[start : start + INSERT_CHUNK]
        stored: set[str] = set()
        values: list[Sequence[Any]] = []
        for c in columns:
            text = _timestamp_text(part[c], table, c, dialect)
            if text is not None:
                stored.add(c)
            values.append(text if text is not None else _frames.python_values(part[c]))
        values += [[value] * len(part) for value in (constants or {}).values()]
        insert_columns(session, table, [*columns, *(constants or {})], values, stored=stored)


#: Rows made into Python values at a time by :func:`insert_frame`: the first night's
#: 929,600 registration rows at once held about 400 MB of them at 1M accounts.
INSERT_CHUNK: Final = 100_000


def _timestamp_text(
    series: pd.Series, table: Table, name: str, dialect: Dialect
) -> list[Any] | None:
    """A UTC timestamp column as the text its backend stores (None: not one, or no fast path)."""
    if not isinstance(series.dtype, pd.DatetimeTZDtype) or not isinstance(
        table.c[name].type, UTCDateTime
    ):
        return None
    if (dialect.name, dialect.driver) not in _FAST:
        return None
    instants = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
    zone = _PG_ZONE if dialect.name == "postgresql" else ""
    # A column's instants often repeat (a first night's first_observed_at is one instant on
    # every row): each distinct one is written once, as _each_once does for other values.
    codes, distinct = pd.factorize(instants.view(np.int64))
    out: list[Any]
    if len(distinct) * _REPEATS <= len(instants):
        text = _stamp_text(distinct.view("datetime64[us]"), zone)
        out = text.astype(object)[codes].tolist()
    else:
        out = _stamp_text(instants, zone).tolist()
    for i in np.flatnonzero(series.isna().to_numpy()):
        out[i] = None
    return out


#: How many rows a distinct instant must have on average to be written once for them all.
_REPEATS: Final = 4


def _stamp_text(instants: np.ndarray, zone: str) -> np.ndarray:
    """``instants`` (``datetime64[us]``) as ``YYYY-MM-DD HH:MM:SS.ffffff`` + ``zone`` (NaT: any)."""
    # "YYYY-MM-DDTHH:MM:SS.ffffff", fixed width: the T becomes a space, the zone is appended
    # in place, character by character.
    width = _STAMP_WIDTH + len(zone)
    text = np.datetime_as_string(instants, unit="us").astype(f"<U{width}")
    chars = text.view("<U1").reshape(len(text), width)
    chars[:, 10] = " "
    if zone:
        chars[:, _STAMP_WIDTH:] = list(zone)
    return text


def insert_columns(
    session: Session,
    table: Table,
    names: Sequence[str],
    values: Sequence[Sequence[Any]],
    *,
    stored: set[str] | frozenset[str] = frozenset(),
) -> None:
    """Insert rows given column by column (``values[i]`` is column ``names[i]``, driver-ready).

    The columns named in ``stored`` already hold what the backend stores (no
    bind processor runs on them; only with the fast drivers). PostgreSQL gets
    one ``COPY``; the others :func:`execute_columns` of an INSERT.
    """
    if not names or not values or not len(values[0]):
        return
    session.flush()  # rows these reference (the run) must be in the database first
    connection = session.connection()
    dialect = connection.dialect
    if (dialect.name, dialect.driver) != ("postgresql", "psycopg"):
        execute_columns(session, insert(table), names, values, stored=stored)
        return
    processed = _processed(table, names, values, dialect, stored)
    raw: Any = connection.connection.driver_connection
    try:
        _copy(raw, table, names, list(zip(*processed.values(), strict=True)))
    except dialect.loaded_dbapi.Error as exc:
        # As SQLAlchemy raises it (OperationalError, IntegrityError …) for storage_operation.
        raise DBAPIError.instance(
            f"COPY {table.name}", None, exc, dialect.loaded_dbapi.Error
        ) from exc


#: Distinct values whose processed form :func:`_each_once` keeps.
DISTINCT_KEPT: Final = 1024


def _processed(
    table: Table,
    names: Sequence[str],
    values: Sequence[Sequence[Any]],
    dialect: Dialect,
    stored: Collection[str],
) -> dict[str, Sequence[Any]]:
    """Each column through its type's bind processor once (not those in ``stored``)."""
    processed: dict[str, Sequence[Any]] = {}
    for name, column in zip(names, values, strict=True):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is None or name in stored:
            processed[name] = column
        else:
            processed[name] = _each_once(process, column)
    return processed


def _each_once(process: Callable[[Any], Any], column: Sequence[Any]) -> list[Any]:
    """``process`` of every value, run once for each distinct value while they are few.

    The columns with a bind processor are mostly times and days that repeat
    (a run's ``seen_at`` on 200,000 rows): formatting a datetime costs a
    microsecond, a lookup a twentieth of that. A value is known by its type and
    itself (``1`` and ``True`` are equal, not the same value); an unhashable
    one is processed each time. Past :data:`DISTINCT_KEPT` distinct values
    (a column of unique times) the rest is processed value by value.
    """
    done: dict[tuple[type, Any], Any] = {}
    out: list[Any] = []
    for i, value in enumerate(column):
        key = (type(value), value)
        try:
            out.append(done[key])
        except KeyError:
            if len(done) >= DISTINCT_KEPT:
                return out + [process(v) for v in column[i:]]
            done[key] = result = process(value)
            out.append(result)
        except TypeError:
            out.append(process(value))
    return out


def execute_columns(
    session: Session,
    statement: Insert,
    names: Sequence[str],
    values: Sequence[Sequence[Any]],
    *,
    stored: Collection[str] = (),
) -> None:
    """Run ``statement`` (an INSERT, an upsert) once for every row given column by column.

    With the fast drivers the rows go through the columns' bind processors
    once per column (not those named in ``stored``) and then to the driver's
    executemany as tuples (SQLite) or dicts (psycopg), with the statement's own
    constants (an upsert's ``status = 'removed'``) in every row; otherwise
    SQLAlchemy's executemany.
    """
    if not names or not values or not len(values[0]):
        return
    session.flush()
    connection = session.connection()
    dialect = connection.dialect
    if (dialect.name, dialect.driver) not in _FAST:
        records = [dict(zip(names, r, strict=True)) for r in zip(*values, strict=True)]
        session.execute(statement, records)
        return
    table = statement.table
    if not isinstance(table, Table):
        raise ValueError("execute_columns needs a statement on a table")
    processed = _processed(table, names, values, dialect, stored)
    compiled = statement.compile(dialect=dialect, column_keys=list(names))
    constants = {}
    for key, value in compiled.params.items():
        if key not in processed:
            process = compiled.binds[key].type.dialect_impl(dialect).bind_processor(dialect)
            constants[key] = value if process is None else process(value)
    count = len(values[0])
    columns = {**processed, **{k: [v] * count for k, v in constants.items()}}
    rows: list[Any]
    if compiled.positiontup is not None:  # SQLite's "?" placeholders, in the statement's order
        rows = list(zip(*(columns[n] for n in compiled.positiontup), strict=True))
    else:  # psycopg's %(name)s placeholders
        keys = list(columns)
        rows = [dict(zip(keys, r, strict=True)) for r in zip(*columns.values(), strict=True)]
    connection.exec_driver_sql(str(compiled), rows)


def _copy(raw: Any, table: Table, names: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """``COPY table (names) FROM STDIN`` on a psycopg connection."""
    from psycopg import sql  # only where PostgreSQL is used (the "postgres" extra)

    target = (
        sql.Identifier(table.name)
        if table.schema is None
        else sql.Identifier(table.schema, table.name)
    )
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        target, sql.SQL(", ").join(sql.Identifier(n) for n in names)
    )
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def select_frame(session: Session, query: Select[Any], schema: model.Schema) -> pd.DataFrame:
    """The rows of ``query`` (its columns in ``schema``'s order) as a frame of ``schema``.

    With the fast drivers the rows come from the driver as they are and each
    timestamp column is parsed by pandas in one go (SQLite's text, PostgreSQL's
    aware datetimes); otherwise through SQLAlchemy's result processing.
    """
    connection = session.connection()
    dialect = connection.dialect
    if (dialect.name, dialect.driver) not in _FAST:
        return _frames.frame_of(session.execute(query).all(), schema)
    compiled = query.compile(dialect=dialect)
    params: Any = compiled.params
    if compiled.positiontup is not None:  # SQLite's "?" placeholders
        params = tuple(compiled.params[name] for name in compiled.positiontup)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), params)
        raw = cursor.fetchall()
    finally:
        cursor.close()
    if not raw:
        return model.empty(schema)
    columns = dict(zip(schema, zip(*raw, strict=True), strict=True))
    data: dict[str, Any] = {}
    for name, dtype in schema.items():
        values = list(columns[name])
        if dtype == model.DATETIME:
            data[name] = pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")
        else:
            data[name] = values
    return model.conform(pd.DataFrame(data), schema)
