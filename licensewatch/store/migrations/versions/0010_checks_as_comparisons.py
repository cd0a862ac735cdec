"""The checks of the tables a night writes by the hundred thousand rows, as comparisons.

``resource_state.status`` and ``.resource_kind`` and
``phone_registrations.last_status`` were ``col IN (…)`` checks, which SQLite
evaluates by building the list again for every row inserted: the first 1M
night's 929,600 registration rows took 3.4 s instead of 1.6 s. They become
``col = 'a' OR col = 'b' …``, which allow and refuse exactly the same values.
``findings`` keeps its checks: it holds every run's findings, and changing a
check on SQLite copies the whole table.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Callable

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

#: (table, column, allowed values): as at this revision, not as the code may have them later.
CHECKS = (
    ("resource_state", "status", ("new", "notified", "kept", "removed")),
    ("resource_state", "resource_kind", ("license", "phone")),
    (
        "phone_registrations",
        "last_status",
        ("registered", "unregistered", "rejected", "partially_registered", "unknown"),
    ),
)


def _comparisons(column: str, values: tuple[str, ...]) -> str:
    return " OR ".join(f"{column} = '{value}'" for value in values)


def _in_list(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _rewrite(write: Callable[[str, tuple[str, ...]], str]) -> None:
    for table in dict.fromkeys(t for t, _, _ in CHECKS):
        # One batch a table: on SQLite, one copy of it.
        with op.batch_alter_table(table) as batch:
            for _, column, values in (c for c in CHECKS if c[0] == table):
                name = op.f(f"ck_{table}_{column}")
                batch.drop_constraint(name, type_="check")
                batch.create_check_constraint(name, write(column, values))


def upgrade() -> None:
    """The three checks as comparisons joined by OR."""
    _rewrite(_comparisons)


def downgrade() -> None:
    """Back to 0009: the same checks as IN lists."""
    _rewrite(_in_list)
