"""Seats and group licensing: where a licence finding comes from; renewal notices sent.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

BIG_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OLD_KIND = "kind IN ('notice', 'reminder', 'escalation', 'overdue', 'digest')"
NEW_KIND = "kind IN ('notice', 'reminder', 'escalation', 'overdue', 'digest', 'renewal')"


def upgrade() -> None:
    """Add findings.via_group_id, via_group, assigned_directly; create renewal_notices;
    allow outbox messages of kind renewal."""
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_outbox_kind"), NEW_KIND)
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("via_group_id", sa.Text(), nullable=True))
        batch.add_column(sa.Column("via_group", sa.Text(), nullable=True))
        batch.add_column(sa.Column("assigned_directly", sa.Boolean(), nullable=True))
    op.create_table(
        "renewal_notices",
        sa.Column("id", BIG_KEY, autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.Text(), nullable=False),
        sa.Column("renews_on", sa.Date(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("queued_on", sa.Date(), nullable=False),
        sa.CheckConstraint(
            "stage IN ('horizon', '30 days')", name=op.f("ck_renewal_notices_stage")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_renewal_notices")),
        sa.UniqueConstraint(
            "subscription_id",
            "renews_on",
            "stage",
            name=op.f("uq_renewal_notices_subscription_id_renews_on_stage"),
        ),
    )


def downgrade() -> None:
    """Back to 0005: drop renewal_notices, renewal emails and the findings' group columns."""
    op.execute("DELETE FROM outbox WHERE kind = 'renewal'")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_outbox_kind"), OLD_KIND)
    op.drop_table("renewal_notices")
    with op.batch_alter_table("findings") as batch:
        batch.drop_column("assigned_directly")
        batch.drop_column("via_group")
        batch.drop_column("via_group_id")
