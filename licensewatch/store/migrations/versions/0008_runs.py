"""Runs: the run summary as stored (for ``runs show``) and the totals of pruned findings.

The run's ``run_summary.json`` lives in its report folder, which retention may
delete; the row keeps what ``licensewatch runs show`` prints for ever. When
retention deletes a run's findings rows, their totals (what the trend sums
over them) are kept in ``pruned_totals``, with when (``findings_pruned_at``).

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMPTZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add runs.summary (NULL for earlier runs), findings_pruned_at and pruned_totals."""
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("summary", JSON_DOC, nullable=True))
        batch.add_column(sa.Column("findings_pruned_at", TIMESTAMPTZ, nullable=True))
        batch.add_column(sa.Column("pruned_totals", JSON_DOC, nullable=True))


def downgrade() -> None:
    """Back to 0006: the stored summaries and pruned totals are dropped."""
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("pruned_totals")
        batch.drop_column("findings_pruned_at")
        batch.drop_column("summary")
