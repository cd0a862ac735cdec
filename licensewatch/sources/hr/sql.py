"""Kind ``sql`` for ``[sources.separations]``: HR separations from a database query.

HR teams often expose a view in the ERP's database rather than a file. The
URL (SQLAlchemy form, e.g. ``postgresql+psycopg://hr_reader@hr-db/erp``)
comes from the environment variable ``url_env`` names, never from the config;
messages name that variable, never the URL or its password. ``query`` is the
SELECT to run, sent to the database exactly as written (no placeholders).

The query runs read-only where the database can enforce it: a READ ONLY
transaction on PostgreSQL (and MySQL, Oracle), a read-only connection with
``query_only`` on SQLite; elsewhere in a transaction that is always rolled
back (give the account read permissions only). A query that tries to write
fails with the database's own message. At most ``MAX_ROWS`` rows are
fetched, as from a file. The result is checked like a file:
the same canonical columns, ``columns`` renames and ``date_format``; row
numbers are result rows (the first row is row 1).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, ClassVar, Final

import pandas as pd
from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.pool import NullPool

from licensewatch import model
from licensewatch.config import SourceSettings
from licensewatch.errors import ConfigError, InputError, SourceError, SourceUnavailable
from licensewatch.sources.hr.files import CANONICAL, SPEC, finish_separations
from licensewatch.sources.interface import SeparationsPull, SeparationsSource
from licensewatch.sources.tabular import text as textfile
from licensewatch.sources.tabular.table import ProblemLog, check_grid, check_options, table_options
from licensewatch.sources.tabular.text import Grid, cell_text

DEFAULT_TIMEOUT_S: Final = 300
CONNECT_TIMEOUT_S: Final = 10
#: Backends whose "SET TRANSACTION READ ONLY" makes the query's transaction read-only.
_READ_ONLY_TRANSACTION: Final = ("postgresql", "mysql", "mariadb", "oracle")
_FIRST_WORD: Final = re.compile(r"(?:\s+|--[^\n]*\n?|/\*.*?\*/)*(\w+)", re.DOTALL)


class SeparationsSqlSource(SeparationsSource):
    """HR separations from a SELECT on the HR database.

    Options: ``url_env`` and ``query`` (required); ``date_format`` for dates
    the query returns as text; ``columns`` (renames of the query's column
    names); ``timeout_s`` (longest the query may run, default 300; PostgreSQL).
    """

    KEYS: ClassVar[tuple[str, ...]] = ("url_env", "query", "date_format", "columns", "timeout_s")
    remote: ClassVar[bool] = True

    def __init__(self, settings: SourceSettings) -> None:
        options = check_options(
            settings,
            ("url_env", "query", "date_format"),
            {"date_format": "iso"},
            other=("columns", "timeout_s"),
        )
        self.where = f"[sources.{settings.feed}]"
        self.url_env = options["url_env"]
        self.query = options["query"]
        first = _FIRST_WORD.match(self.query)
        if first is None or first[1].casefold() not in ("select", "with"):
            raise ConfigError(
                f"{self.where} query must be a SELECT (or WITH … SELECT)",
                hint="licensewatch only reads the HR database",
            )
        timeout = settings.options.get("timeout_s", DEFAULT_TIMEOUT_S)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
            raise ConfigError(f"{self.where} timeout_s must be a whole number of seconds above 0")
        self.timeout_s = timeout
        self.options = table_options(settings, options, CANONICAL)

    def url(self) -> URL:
        """The database URL from the environment (raises ``ConfigError`` naming the variable)."""
        value = os.environ.get(self.url_env, "").strip()
        if not value:
            raise ConfigError(
                f"{self.where} url_env names {self.url_env}, which is not set",
                hint=f"set {self.url_env} to the HR database's SQLAlchemy URL, "
                "e.g. postgresql+psycopg://hr_reader@hr-db.example.org/erp",
            )
        try:
            return make_url(value)
        except ArgumentError:
            raise ConfigError(
                f"{self.url_env} (named by url_env in {self.where}) does not hold a database URL",
                hint="use the SQLAlchemy form, e.g. postgresql+psycopg://user@host/dbname",
            ) from None

    def check(self) -> None:
        """Check the URL and the driver without connecting."""
        _engine(self.url(), self.url_env).dispose()

    def pull(self) -> SeparationsPull:
        """Run the query read-only and check its rows like a file's."""
        url = self.url()
        engine = _engine(url, self.url_env)
        try:
            names, rows = self._fetch(engine, url)
        finally:
            engine.dispose()
        cells = pd.DataFrame(
            [[cell_text(v) for v in row] for row in rows],
            index=pd.RangeIndex(1, len(rows) + 1),
            columns=pd.RangeIndex(len(names)),
            dtype=model.STRING,
        )
        log = ProblemLog(f"{self.where} query")
        table = check_grid(Grid(names, cells, header_row=None), SPEC, self.options, log)
        return SeparationsPull(finish_separations(table, log))

    def _fetch(self, engine: Engine, url: URL) -> tuple[list[str], list[tuple[Any, ...]]]:
        backend = url.get_backend_name()
        dbapi_error: Any = engine.dialect.loaded_dbapi.Error
        try:
            connection = engine.raw_connection()
        except (DBAPIError, dbapi_error) as exc:
            raise SourceUnavailable(
                f"cannot connect to the HR database in {self.url_env}: {_reason(exc, url)}",
                hint="check that the database is up and the URL, user and password are right",
            ) from None
        try:
            cursor = connection.cursor()
            if backend in _READ_ONLY_TRANSACTION:
                cursor.execute("SET TRANSACTION READ ONLY")
            if backend == "postgresql":
                cursor.execute(f"SET LOCAL statement_timeout = {int(self.timeout_s) * 1000}")
            if backend == "sqlite":
                cursor.execute("PRAGMA query_only = ON")
            # Run as written: the DB-API only treats '%' or ':' specially when given parameters.
            cursor.execute(self.query)
            if cursor.description is None:
                raise SourceError(f"the query of {self.where} returned no rows and no columns")
            names = [str(d[0]) for d in cursor.description]
            # At most MAX_ROWS rows, like a file: a runaway query must not exhaust memory.
            rows = [tuple(row) for row in cursor.fetchmany(textfile.MAX_ROWS + 1)]
            if len(rows) > textfile.MAX_ROWS:
                raise InputError.single(
                    f"{self.where} query",
                    f"returned more than {textfile.MAX_ROWS:,} rows, the most a feed may have",
                    row=textfile.MAX_ROWS + 1,
                )
        except dbapi_error as exc:
            raise SourceError(
                f"the query of {self.where} failed: {_reason(exc, url)}",
                hint=f"correct query in {self.where}; it must only read",
            ) from None
        finally:
            try:
                connection.rollback()
            finally:
                connection.close()
        return names, rows


def _engine(url: URL, variable: str) -> Engine:
    """An engine for one read: read-only file for SQLite, connect timeout for PostgreSQL."""
    connect_args: dict[str, Any] = {}
    backend = url.get_backend_name()
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if backend == "postgresql" and "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    file = url.database or ""
    if backend == "sqlite" and file not in ("", ":memory:") and not file.startswith("file:"):
        # mode=ro: never create or change the file, whatever the query says.
        database = Path(file).expanduser().resolve().as_uri()
        url = url.set(database=database, query={**url.query, "mode": "ro", "uri": "true"})
    try:
        return create_engine(url, poolclass=NullPool, connect_args=connect_args)
    except (NoSuchModuleError, ImportError) as exc:
        raise ConfigError(
            f"no database driver for the URL in {variable} ({backend}): {exc}",
            hint="for PostgreSQL install psycopg: pip install 'licensewatch[postgres]'",
        ) from None
    except ArgumentError as exc:
        raise ConfigError(f"the URL in {variable} is not usable: {exc}") from None


def _reason(exc: BaseException, url: URL) -> str:
    """The database's message (first line), without the URL's password should it echo one."""
    source = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(source).strip().splitlines()
    reason = lines[0].strip() if lines else type(source).__name__
    for secret in (url.password, url.render_as_string(hide_password=False)):
        if secret:
            reason = reason.replace(str(secret), "***")
    return reason[:300]
