"""Runs: the run summary as stored (brake reasons, warnings by kind, notices), for ``runs show``.

The run's ``run_summary.json`` lives in its report folder, which retention may
delete; the row keeps what ``licensewatch runs show`` prints for ever.

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Add runs.summary (NULL for the runs recorded before this revision)."""
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("summary", JSON_DOC, nullable=True))


def downgrade() -> None:
    """Back to 0004: the stored summaries are dropped (the report folders keep theirs)."""
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("summary")
