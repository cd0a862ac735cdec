"""Alembic environment for licensewatch's schema.

Normally driven by :mod:`licensewatch.store.db`, which hands over an open
connection (already inside a transaction) in ``config.attributes["connection"]``.
With ``sqlalchemy.url`` set instead, it connects itself (online) or writes the
SQL script (offline, ``--sql``) for a DBA to review.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from licensewatch.store.db import model_metadata, open_engine

config = context.config
# Every store module's models, not only tables.py's: autogenerate must see them all.
target_metadata = model_metadata()


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        # db.py begins SQLite transactions explicitly, so its DDL is transactional too.
        transactional_ddl=True,
    )


def run_migrations_offline() -> None:
    """Write the migration SQL for ``sqlalchemy.url``'s dialect instead of running it."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on ``sqlalchemy.url``."""
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        _configure(given)
        with context.begin_transaction():
            context.run_migrations()
        return

    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("give a connection in config.attributes or set sqlalchemy.url")
    engine = open_engine(url)
    try:
        with engine.begin() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
