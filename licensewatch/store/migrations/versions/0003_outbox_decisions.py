"""Notification cycle: outbox, decisions, deprovisioning results, cycle dates on resource_state.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

# Column types as the models spell them; spelled out here so that later model
# changes never rewrite history.
TIMESTAMPTZ = sa.DateTime(timezone=True)
BIG_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OUTBOX_STATUS = "status IN ('pending', 'sending', 'sent', 'failed')"
OUTBOX_KIND = "kind IN ('notice', 'reminder', 'escalation')"


def upgrade() -> None:
    """Create outbox, decisions and deprovision_actions; add the cycle dates."""
    with op.batch_alter_table("resource_state") as batch:
        batch.add_column(sa.Column("first_notified_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("reminded_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("escalated_on", sa.Date(), nullable=True))
    op.create_table(
        "outbox",
        sa.Column("id", BIG_KEY, autoincrement=True, nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("resource_ids", sa.JSON(), nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMPTZ, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", TIMESTAMPTZ, nullable=True),
        sa.Column("next_attempt_at", TIMESTAMPTZ, nullable=True),
        sa.Column("sent_at", TIMESTAMPTZ, nullable=True),
        sa.Column("transport", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(OUTBOX_STATUS, name=op.f("ck_outbox_status")),
        sa.CheckConstraint(OUTBOX_KIND, name=op.f("ck_outbox_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_key")),
    )
    op.create_index("ix_outbox_status", "outbox", ["status"])
    op.create_table(
        "decisions",
        sa.Column("id", BIG_KEY, autoincrement=True, nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=True),
        sa.Column("keep_until", sa.Date(), nullable=True),
        sa.Column("decided_at", TIMESTAMPTZ, nullable=False),
        sa.Column("source_file", sa.Text(), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=False),
        sa.Column("imported_by", sa.Text(), nullable=False),
        sa.CheckConstraint("decision IN ('remove', 'keep')", name=op.f("ck_decisions_decision")),
        sa.CheckConstraint(
            "decision = 'remove' OR keep_until IS NOT NULL", name=op.f("ck_decisions_keep_until")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
    )
    op.create_index("ix_decisions_resource_id", "decisions", ["resource_id"])
    op.create_table(
        "deprovision_actions",
        sa.Column("id", BIG_KEY, autoincrement=True, nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("requested_at", TIMESTAMPTZ, nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deprovision_actions")),
    )
    op.create_index("ix_deprovision_actions_resource_id", "deprovision_actions", ["resource_id"])


def downgrade() -> None:
    """Drop what upgrade created."""
    op.drop_index("ix_deprovision_actions_resource_id", table_name="deprovision_actions")
    op.drop_table("deprovision_actions")
    op.drop_index("ix_decisions_resource_id", table_name="decisions")
    op.drop_table("decisions")
    op.drop_index("ix_outbox_status", table_name="outbox")
    op.drop_table("outbox")
    with op.batch_alter_table("resource_state") as batch:
        batch.drop_column("escalated_on")
        batch.drop_column("reminded_on")
        batch.drop_column("first_notified_on")
