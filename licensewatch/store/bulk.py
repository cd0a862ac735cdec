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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Table, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from licensewatch.store import _frames


def insert_frame(
    session: Session,
    table: Table,
    frame: pd.DataFrame,
    columns: Sequence[str],
    constants: Mapping[str, Any] | None = None,
) -> None:
    """Insert ``frame``'s ``columns`` (plus ``constants`` in every row) into ``table``."""
    values = [_frames.python_values(frame[c]) for c in columns]
    values += [[value] * len(frame) for value in (constants or {}).values()]
    insert_columns(session, table, [*columns, *(constants or {})], values)


def insert_columns(
    session: Session, table: Table, names: Sequence[str], values: Sequence[Sequence[Any]]
) -> None:
    """Insert rows given column by column (``values[i]`` is column ``names[i]``, driver-ready)."""
    if not names or not values or not len(values[0]):
        return
    session.flush()  # rows these reference (the run) must be in the database first
    connection = session.connection()
    dialect = connection.dialect
    driver = dialect.name, dialect.driver
    if driver not in (("sqlite", "pysqlite"), ("postgresql", "psycopg")):
        names_ = list(names)
        records = [dict(zip(names_, row, strict=True)) for row in zip(*values, strict=True)]
        session.execute(insert(table), records)
        return
    processed: dict[str, Sequence[Any]] = {}
    for name, column in zip(names, values, strict=True):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        processed[name] = column if process is None else [process(v) for v in column]
    if driver[0] == "postgresql":
        raw: Any = connection.connection.driver_connection
        try:
            _copy(raw, table, names, list(zip(*processed.values(), strict=True)))
        except dialect.loaded_dbapi.Error as exc:
            # As SQLAlchemy raises it (OperationalError, IntegrityError …) for storage_operation.
            raise DBAPIError.instance(
                f"COPY {table.name}", None, exc, dialect.loaded_dbapi.Error
            ) from exc
        return
    # SQLAlchemy writes the statement (quoted names, the driver's "?" placeholders), in its
    # own column order: the rows follow that order.
    compiled = insert(table).compile(dialect=dialect, column_keys=list(names))
    order = list(compiled.positiontup or ())
    if sorted(order) != sorted(names):
        raise ValueError(f"cannot bulk insert into {table.name}: columns {order} for {names}")
    rows = list(zip(*(processed[n] for n in order), strict=True))
    # The driver's executemany on these tuples as they are; errors wrapped as SQLAlchemy's.
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
