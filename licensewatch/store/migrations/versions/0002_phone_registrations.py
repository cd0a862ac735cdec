"""Phone registration history: phone_registrations.

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# Column types as licensewatch/store/registrations.py spells them; spelled out here
# so that later model changes never rewrite history.
TIMESTAMPTZ = sa.DateTime(timezone=True)
LAST_STATUS = (
    "last_status IN ('registered', 'unregistered', 'rejected', 'partially_registered', 'unknown')"
)


def upgrade() -> None:
    """Create phone_registrations."""
    op.create_table(
        "phone_registrations",
        sa.Column("device_key", sa.Text(), nullable=False),
        sa.Column("first_observed_at", TIMESTAMPTZ, nullable=False),
        sa.Column("last_registered_at", TIMESTAMPTZ, nullable=True),
        sa.Column("last_status", sa.Text(), nullable=False),
        sa.Column("status_changed_at", TIMESTAMPTZ, nullable=False),
        sa.CheckConstraint(LAST_STATUS, name=op.f("ck_phone_registrations_last_status")),
        sa.PrimaryKeyConstraint("device_key", name=op.f("pk_phone_registrations")),
    )


def downgrade() -> None:
    """Drop phone_registrations."""
    op.drop_table("phone_registrations")
