"""Outbox: per-recipient outcomes, delivery to a focal point, statuses partial and unknown.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

TIMESTAMPTZ = sa.DateTime(timezone=True)
OLD_STATUS = "status IN ('pending', 'sending', 'sent', 'failed')"
NEW_STATUS = "status IN ('pending', 'sending', 'sent', 'failed', 'partial', 'unknown')"


def upgrade() -> None:
    """Add recipient_status and delivered_at; allow the statuses partial and unknown."""
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("recipient_status", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("delivered_at", TIMESTAMPTZ, nullable=True))
        batch.drop_constraint(op.f("ck_outbox_status"), type_="check")
        batch.create_check_constraint(op.f("ck_outbox_status"), NEW_STATUS)
    # What was sent before this revision reached its recipients when it was sent.
    op.execute("UPDATE outbox SET delivered_at = sent_at WHERE status = 'sent'")


def downgrade() -> None:
    """Back to 0003: partial and unknown messages become failed (retried)."""
    op.execute("UPDATE outbox SET status = 'failed' WHERE status IN ('partial', 'unknown')")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("ck_outbox_status"), type_="check")
        batch.create_check_constraint(op.f("ck_outbox_status"), OLD_STATUS)
        batch.drop_column("delivered_at")
        batch.drop_column("recipient_status")
