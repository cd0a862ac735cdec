"""Initial schema: runs, findings per run, resource state.

Revision ID: 0001
Revises:
Create Date: 2025-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Column types as the models spell them (licensewatch/store/tables.py); spelled out
# here so that later model changes never rewrite history.
TIMESTAMPTZ = sa.DateTime(timezone=True)
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
FINDING_STATUS = "status IN ('new', 'notified', 'kept', 'removed')"
RESOURCE_KIND = "resource_kind IN ('license', 'phone')"


def upgrade() -> None:
    """Create runs, findings and resource_state."""
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_key", sa.Text(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("started_at", TIMESTAMPTZ, nullable=False),
        sa.Column("finished_at", TIMESTAMPTZ, nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("counts", JSON_DOC, nullable=False),
        sa.Column("annual_avoidable_cents", sa.BigInteger(), nullable=False),
        sa.Column("accrued_avoidable_cents", sa.BigInteger(), nullable=False),
        sa.Column("findings_count", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'ok', 'dry_run', 'braked', 'failed')",
            name=op.f("ck_runs_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.UniqueConstraint("run_key", name=op.f("uq_runs_run_key")),
    )
    op.create_table(
        "findings",
        sa.Column("id", BIG_KEY, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=False),
        sa.Column("resource_kind", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("account_id", sa.Text(), nullable=True),
        sa.Column("owner_upn", sa.Text(), nullable=True),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("dormant_since", TIMESTAMPTZ, nullable=True),
        sa.Column("days_dormant", sa.Integer(), nullable=False),
        sa.Column("match_key", sa.Text(), nullable=True),
        sa.Column("item", sa.Text(), nullable=True),
        sa.Column("annual_cost_cents", sa.BigInteger(), nullable=False),
        sa.Column("accrued_cost_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.CheckConstraint(FINDING_STATUS, name=op.f("ck_findings_status")),
        sa.CheckConstraint(RESOURCE_KIND, name=op.f("ck_findings_resource_kind")),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_findings_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
    )
    op.create_index(op.f("ix_findings_run_id"), "findings", ["run_id"], unique=False)
    op.create_index(op.f("ix_findings_resource_id"), "findings", ["resource_id"], unique=False)
    op.create_table(
        "resource_state",
        sa.Column("resource_id", sa.Text(), nullable=False),
        sa.Column("resource_kind", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("first_seen_dormant", TIMESTAMPTZ, nullable=False),
        sa.Column("last_seen_dormant", TIMESTAMPTZ, nullable=False),
        sa.Column("last_run_id", sa.Integer(), nullable=False),
        sa.Column("last_notified_at", TIMESTAMPTZ, nullable=True),
        sa.Column("notify_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("removed_at", TIMESTAMPTZ, nullable=True),
        sa.Column("annual_cost_cents", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(FINDING_STATUS, name=op.f("ck_resource_state_status")),
        sa.CheckConstraint(RESOURCE_KIND, name=op.f("ck_resource_state_resource_kind")),
        sa.PrimaryKeyConstraint("resource_id", name=op.f("pk_resource_state")),
    )


def downgrade() -> None:
    """Drop everything the initial revision created."""
    op.drop_table("resource_state")
    op.drop_index(op.f("ix_findings_resource_id"), table_name="findings")
    op.drop_index(op.f("ix_findings_run_id"), table_name="findings")
    op.drop_table("findings")
    op.drop_table("runs")
