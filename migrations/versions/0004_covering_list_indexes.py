"""covering indexes for the customer list's default order, and a reseller's list

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

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
        batch_op.create_index("ix_customer_sort_name_id", ["sort_name", "id"],
                              postgresql_include=["status", "reseller_id"])
        batch_op.create_index("ix_customer_reseller_sort", ["reseller_id", "sort_name", "id"],
                              postgresql_include=["status"])


def downgrade():
    with op.batch_alter_table("customer") as batch_op:
        batch_op.drop_index("ix_customer_reseller_sort")
        batch_op.drop_index("ix_customer_sort_name_id")
        batch_op.create_index("ix_customer_sort_name_id", ["sort_name", "id"])
        batch_op.create_index("ix_customer_reseller_id_id", ["reseller_id", "id"])
