"""allocation reversals index (issue 15): which of a customer's allocations were reversed (the cash
allocation screen's recent allocations, un-allocation's "already reversed") is found by
allocation.reverses_id; without an index PostgreSQL read all two million allocations for it (92 ms
at a million customers). Only reversals have it: a partial index.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_allocation_reverses", "allocation", ["reverses_id"],
                    postgresql_where=sa.text("reverses_id IS NOT NULL"), sqlite_where=sa.text("reverses_id IS NOT NULL"))


def downgrade():
    op.drop_index("ix_allocation_reverses", "allocation")
