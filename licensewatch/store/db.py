"""Opening the database, upgrading its schema, and turning driver errors into StorageError.

SQLite (a file, nothing to install) and PostgreSQL (psycopg 3) behave the
same: aware UTC timestamps, enforced foreign keys, transactional DDL. The
Alembic environment ships inside the package and is configured here in code,
so an installed licensewatch needs no ``alembic.ini``.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Concatenate, Final, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from licensewatch.errors import StorageError
from licensewatch.store.tables import Base

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"

#: How long SQLite waits for another writer before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS: Final = 30_000
#: How long PostgreSQL connection attempts may take (seconds) unless the URL says otherwise.
PG_CONNECT_TIMEOUT_S: Final = 10
#: pg_advisory_xact_lock key that serializes concurrent schema upgrades.
_PG_UPGRADE_LOCK: Final = 0x6C77_0001
#: Execution option asking the SQLite "begin" hook for BEGIN IMMEDIATE (take the write lock now).
_SQLITE_BEGIN: Final = "licensewatch_sqlite_begin"

P = ParamSpec("P")
R = TypeVar("R")

_SQLITE_FULL: Final = 13
_HINT_FULL: Final = (
    "the database's disk is full: free space there, then run again "
    "(the failed step's transaction was rolled back)"
)
_HINT_URL: Final = (
    "check database.url in the config, that the database is reachable "
    "and that it is licensewatch's own database"
)


def safe_url(url: URL | str) -> str:
    """The URL as text with its password masked, for messages and logs."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "(unparseable database URL)"
    return parsed.render_as_string(hide_password=True)


def _reason(exc: BaseException, url: URL | None) -> str:
    """The first line of the driver's message, without the password should it echo one."""
    source = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(source).strip().splitlines()
    reason = lines[0].strip() if lines else type(source).__name__
    if url is not None and url.password:
        reason = reason.replace(str(url.password), "***")
    return reason[:300]


@contextmanager
def storage_errors(doing: str, url: URL | None = None, hint: str | None = None) -> Iterator[None]:
    """Turn driver errors raised inside the block into a one-line :class:`StorageError`.

    ``doing`` completes "could not …" ("save findings"); the URL, if given, is
    named with its password hidden.
    """
    try:
        yield
    except DBAPIError as exc:
        where = f" in {safe_url(url)}" if url is not None else ""
        if hint is None and _disk_full(exc):
            hint = _HINT_FULL
        raise StorageError(
            f"could not {doing}{where}: {_reason(exc, url)}", hint=hint or _HINT_URL
        ) from exc


def _disk_full(exc: DBAPIError) -> bool:
    """Whether the database said its disk (or its size limit) is full."""
    orig = exc.orig
    # SQLite's SQLITE_FULL (13); PostgreSQL's class 53 (insufficient resources: disk_full 53100).
    if getattr(orig, "sqlite_errorcode", None) == _SQLITE_FULL:
        return True
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return isinstance(sqlstate, str) and sqlstate == "53100"


def storage_operation(
    doing: str,
) -> Callable[[Callable[Concatenate[Session, P], R]], Callable[Concatenate[Session, P], R]]:
    """Decorate a function taking a session first: its driver errors become StorageError."""

    def decorate(
        function: Callable[Concatenate[Session, P], R],
    ) -> Callable[Concatenate[Session, P], R]:
        @functools.wraps(function)
        def wrapper(session: Session, /, *args: P.args, **kwargs: P.kwargs) -> R:
            bind = session.get_bind()
            with storage_errors(doing, bind.engine.url):
                return function(session, *args, **kwargs)

        return wrapper

    return decorate


def _with_driver(url: URL) -> URL:
    # "postgresql://" would pick psycopg2, which licensewatch does not depend on.
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    return url


def open_engine(url: str) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql://…``); does not connect yet."""
    try:
        parsed = _with_driver(make_url(url))
    except ArgumentError:
        raise StorageError(
            "database.url is not a valid database URL",
            hint='use "sqlite:///licensewatch.db" or "postgresql://user@host/dbname"',
        ) from None
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            engine = create_engine(parsed)
            _tune_sqlite(engine)
            return engine
        if backend == "postgresql":
            connect_args: dict[str, Any] = {}
            if "connect_timeout" not in parsed.query:
                connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
            return create_engine(parsed, connect_args=connect_args)
    except (NoSuchModuleError, ImportError) as exc:
        raise StorageError(
            f"no driver for {safe_url(parsed)}: {exc}",
            hint="for PostgreSQL install psycopg: pip install 'licensewatch[postgres]'",
        ) from None
    raise StorageError(
        f"unsupported database {backend!r} in {safe_url(parsed)}",
        hint="use SQLite (sqlite:///path) or PostgreSQL (postgresql://user@host/dbname)",
    )


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy: pysqlite's own would begin only
        # before DML, leaving reads and DDL outside the run's transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # WAL lets reports and listings read while a run writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_SQLITE_BEGIN, "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())


def model_metadata() -> MetaData:
    """The metadata of every licensewatch model, whichever ``store`` module defines it.

    Imports each module of this package so that all models are registered on
    :class:`~licensewatch.store.tables.Base`; Alembic autogenerate and the
    schema test compare the migrations against this.
    """
    for module in pkgutil.iter_modules([str(Path(__file__).resolve().parent)]):
        if not module.ispkg:
            importlib.import_module(f"licensewatch.store.{module.name}")
    return Base.metadata


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's config for the packaged migrations, built in code (no ``alembic.ini``).

    With ``connection`` (inside a transaction), commands such as ``upgrade`` or
    ``revision --autogenerate`` run on it.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The schema revision this version of licensewatch expects."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no Alembic revisions in {MIGRATIONS_DIR}")
    return head


def schema_revision(engine: Engine) -> str | None:
    """The database's current schema revision; ``None`` for an empty database."""
    with storage_errors("read the schema revision", engine.url), engine.connect() as conn:
        try:
            return MigrationContext.configure(conn).get_current_revision()
        except CommandError as exc:
            raise _schema_error(engine, str(exc)) from None


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; does nothing when already there.

    Runs in one transaction (DDL included, on both backends) under a lock, so a
    failed or concurrent upgrade never leaves a half-built schema.
    """
    head = head_revision()
    if schema_revision(engine) == head:
        return
    with storage_errors("upgrade the schema", engine.url), engine.connect() as conn:
        conn.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
        with conn.begin():
            _upgrade_on(conn)


def upgrade_in(session: Session) -> None:
    """Bring the schema to the newest revision inside ``session``'s transaction.

    The schema change commits or rolls back with the session: a run upgrades
    this way, so a run that fails (its first one included) leaves no schema
    behind. Does nothing when the schema is already the newest.
    """
    with storage_errors("upgrade the schema", session.get_bind().engine.url):
        _upgrade_on(session.connection())


def _upgrade_on(connection: Connection) -> None:
    with storage_errors("upgrade the schema", connection.engine.url):
        try:
            if MigrationContext.configure(connection).get_current_revision() == head_revision():
                return
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_UPGRADE_LOCK}
                )
            command.upgrade(alembic_config(connection), "head")
        except CommandError as exc:
            raise _schema_error(connection.engine, str(exc)) from None


def check_schema(engine: Engine) -> None:
    """Raise :class:`StorageError` unless the database is at this version's schema."""
    current, head = schema_revision(engine), head_revision()
    if current != head:
        raise _schema_error(
            engine, f"schema revision is {current or 'none (empty database)'}, expected {head}"
        )


def _schema_error(engine: Engine, reason: str) -> StorageError:
    first = reason.strip().splitlines()[0] if reason.strip() else "unexpected schema"
    return StorageError(
        f"database {safe_url(engine.url)} has the wrong schema: {first}",
        hint="point database.url at licensewatch's own database (an empty one is upgraded "
        "automatically); a newer schema needs a newer licensewatch",
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; the caller owns (begins and commits) the transaction."""
    return sessionmaker(bind=engine, expire_on_commit=False)
