"""An outbox message's bytes in a table of their own, ``outbox_bodies``.

SQLite writes a whole row again on every UPDATE, and an outbox row changes
status two or three times a send: with the message's bytes in it (some 3 MB
a department at 1M accounts), the 1M night's 39 sends wrote a quarter of a
gigabyte and took 1.7 of their 2.2 s. The bytes move, unchanged, to
``outbox_bodies`` (one row per message, deleted with it); ``outbox`` keeps
everything that changes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

# As the models spell them at this revision.
BIG_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


#: The bodies' foreign key: each body is deleted with its message.
FK = "fk_outbox_bodies_outbox_id_outbox"


def upgrade() -> None:
    """Create outbox_bodies, move every message's bytes there, drop outbox.message.

    On SQLite a table is altered by building it again and dropping the old one,
    and dropping ``outbox`` would delete every body that already refers to it
    (``ON DELETE CASCADE``): the bytes move first, the foreign key comes last.
    """
    op.create_table(
        "outbox_bodies",
        sa.Column("outbox_id", BIG_KEY, nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("outbox_id", name=op.f("pk_outbox_bodies")),
    )
    op.execute("INSERT INTO outbox_bodies (outbox_id, message) SELECT id, message FROM outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("message")
    with op.batch_alter_table("outbox_bodies") as batch:
        batch.create_foreign_key(op.f(FK), "outbox", ["outbox_id"], ["id"], ondelete="CASCADE")


def downgrade() -> None:
    """Back to 0010: the bytes return to outbox.message (the foreign key goes first, as above)."""
    with op.batch_alter_table("outbox_bodies") as batch:
        batch.drop_constraint(op.f(FK), type_="foreignkey")
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(
            sa.Column("message", sa.LargeBinary(), nullable=False, server_default=sa.text("''"))
        )
    op.execute(
        "UPDATE outbox SET message = (SELECT b.message FROM outbox_bodies b "
        "WHERE b.outbox_id = outbox.id) "
        "WHERE id IN (SELECT outbox_id FROM outbox_bodies)"
    )
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("message", server_default=None)
    op.drop_table("outbox_bodies")
