"""Cycle that never drops an item: separation dates, overdue and escalation dates, new kinds.

``findings.separation_date`` (the risk report's ageing counts from it);
``resource_state.overdue_on`` and ``first_escalated_on`` (``escalated_on`` is
now the last escalation: escalations repeat); outbox kinds ``overdue`` (to the
focal points) and ``digest`` (to the steering committee).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

TIMESTAMPTZ = sa.DateTime(timezone=True)
OLD_KIND = "kind IN ('notice', 'reminder', 'escalation')"
NEW_KIND = "kind IN ('notice', 'reminder', 'escalation', 'overdue', 'digest')"


def upgrade() -> None:
    """Add the columns; allow the kinds overdue and digest."""
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("separation_date", TIMESTAMPTZ, nullable=True))
    with op.batch_alter_table("resource_state") as batch:
        batch.add_column(sa.Column("overdue_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("first_escalated_on", sa.Date(), nullable=True))
    # An item escalated before this revision was first escalated then.
    op.execute("UPDATE resource_state SET first_escalated_on = escalated_on")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_outbox_kind"), NEW_KIND)


def downgrade() -> None:
    """Back to 0004: overdue notices count as reminders, digests as escalations."""
    op.execute("UPDATE outbox SET kind = 'reminder' WHERE kind = 'overdue'")
    op.execute("UPDATE outbox SET kind = 'escalation' WHERE kind = 'digest'")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_outbox_kind"), OLD_KIND)
    with op.batch_alter_table("resource_state") as batch:
        batch.drop_column("first_escalated_on")
        batch.drop_column("overdue_on")
    with op.batch_alter_table("findings") as batch:
        batch.drop_column("separation_date")
