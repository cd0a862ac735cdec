"""One run at a time per database.

SQLite: an exclusive ``flock`` on ``<database>.lock`` beside the file the
database path resolves to (symlinks, ``..`` and relative paths followed), so
two configs that reach one database through a symlink, another relative path
or a bind mount of its folder take the same lock. PostgreSQL: a session-level
advisory lock on a connection of its own. Both are released by the operating
system or the server when the process dies, so a run killed with ``kill -9``
leaves no stale lock behind for the next night.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from licensewatch.errors import RunInProgress, StorageError
from licensewatch.store.db import safe_url, storage_errors

#: The advisory lock key: one per database and schema, so that two deployments
#: sharing a server (in different schemas) do not block each other.
_KEY_SQL = "hashtext('licensewatch:' || current_database() || '.' || current_schema())"


def lock_file(engine: Engine) -> Path | None:
    """The lock file of a SQLite database (None for in-memory databases and other backends).

    ``<name>.lock`` in the folder that really holds the database file: the
    lock is keyed on the file (its folder's identity and its name), not on the
    path a config spells. The database file need not exist yet; it is not
    created here, so a run that fails on its inputs creates no database.
    """
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    path = Path(database).resolve()
    return path.with_name(path.name + ".lock")


@contextmanager
def run_lock(engine: Engine) -> Iterator[None]:
    """Hold the run lock of ``engine``'s database; raise ``RunInProgress`` if it is taken."""
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine):
            yield
        return
    path = lock_file(engine)
    if path is None:
        yield
        return
    with _file_lock(path, Path(str(engine.url.database)).resolve()):
        yield


@contextmanager
def _file_lock(path: Path, database: Path) -> Iterator[None]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StorageError(
            f"could not create the run lock {path}: {exc.strerror or exc}",
            hint="check database.url: the database's folder must be writable by the job's account",
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise RunInProgress(
                f"another licensewatch run is using {database} ({holder}); this run did nothing",
                hint="wait for it to finish; a killed run releases the lock by itself",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def _advisory_lock(engine: Engine) -> Iterator[None]:
    with storage_errors("take the run lock", engine.url), engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        got = conn.execute(text(f"SELECT pg_try_advisory_lock({_KEY_SQL})")).scalar()
        if not got:
            raise RunInProgress(
                f"another licensewatch run is using {safe_url(engine.url)}; this run did nothing",
                hint="wait for it to finish; a killed run's lock ends with its connection",
            )
        try:
            yield
        finally:
            conn.execute(text(f"SELECT pg_advisory_unlock({_KEY_SQL})"))
