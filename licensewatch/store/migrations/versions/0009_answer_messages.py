"""The answer loop: replies handled once, and who decided each decision.

``answer_messages`` (one row per reply of the answers mailbox, keyed by its
Message-ID); ``decisions.decided_by``, ``source`` (mail, operator or rule),
``message_id`` and ``file_digest`` (the same file imported twice is recorded
once). Decisions recorded before this revision were imported by an operator:
``decided_by`` takes ``imported_by``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

TIMESTAMPTZ = sa.DateTime(timezone=True)
OLD_KIND = "kind IN ('notice', 'reminder', 'escalation', 'overdue', 'digest', 'renewal')"
NEW_KIND = (
    "kind IN ('notice', 'reminder', 'escalation', 'overdue', 'digest', 'renewal', 'confirmation')"
)


def upgrade() -> None:
    """Create answer_messages; add the decisions' provenance columns."""
    op.create_table(
        "answer_messages",
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column("received_at", TIMESTAMPTZ, nullable=False),
        sa.Column("handled_at", TIMESTAMPTZ, nullable=False),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("departments", sa.Text(), nullable=True),
        sa.Column("recorded", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "folder IN ('processed', 'rejected')", name=op.f("ck_answer_messages_folder")
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_answer_messages")),
    )
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("decided_by", sa.Text(), nullable=True))
        batch.add_column(sa.Column("source", sa.Text(), nullable=True))
        batch.add_column(sa.Column("message_id", sa.Text(), nullable=True))
        batch.add_column(sa.Column("file_digest", sa.Text(), nullable=True))
        batch.create_index(op.f("ix_decisions_file_digest"), ["file_digest"])
    op.execute("UPDATE decisions SET decided_by = imported_by, source = 'operator'")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_outbox_kind"), NEW_KIND)


def downgrade() -> None:
    """Back to 0008: the provenance columns, the handled replies and confirmations go."""
    op.execute("DELETE FROM outbox WHERE kind = 'confirmation'")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_outbox_kind"), OLD_KIND)
    with op.batch_alter_table("decisions") as batch:
        batch.drop_index(op.f("ix_decisions_file_digest"))
        batch.drop_column("file_digest")
        batch.drop_column("message_id")
        batch.drop_column("source")
        batch.drop_column("decided_by")
    op.drop_table("answer_messages")
