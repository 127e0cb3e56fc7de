"""list indexes that cover status and reseller, and one for a reseller's own list

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

The default order (sort_name, id) now carries status and reseller_id as key
columns, so a page deep in the list is found from the index alone on PostgreSQL
and SQLite alike.
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("customer") as batch_op:
        batch_op.drop_index("ix_customer_reseller_id_id")
        batch_op.drop_index("ix_customer_sort_name_id")
        batch_op.create_index("ix_customer_sort_name_id", ["sort_name", "id", "status", "reseller_id"])
        batch_op.create_index("ix_customer_reseller_sort", ["reseller_id", "sort_name", "id", "status"])


def downgrade():
    with op.batch_alter_table("customer") as batch_op:
        batch_op.drop_index("ix_customer_reseller_sort")
        batch_op.drop_index("ix_customer_sort_name_id")
        batch_op.create_index("ix_customer_sort_name_id", ["sort_name", "id"])
        batch_op.create_index("ix_customer_reseller_id_id", ["reseller_id", "id"])
