"""list indexes cover status and reseller as key columns, so SQLite can use them too

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("customer") as batch_op:
        batch_op.drop_index("ix_customer_sort_name_id")
        batch_op.drop_index("ix_customer_reseller_sort")
        batch_op.create_index("ix_customer_sort_name_id", ["sort_name", "id", "status", "reseller_id"])
        batch_op.create_index("ix_customer_reseller_sort", ["reseller_id", "sort_name", "id", "status"])


def downgrade():
    with op.batch_alter_table("customer") as batch_op:
        batch_op.drop_index("ix_customer_reseller_sort")
        batch_op.drop_index("ix_customer_sort_name_id")
        batch_op.create_index("ix_customer_sort_name_id", ["sort_name", "id"],
                              postgresql_include=["status", "reseller_id"])
        batch_op.create_index("ix_customer_reseller_sort", ["reseller_id", "sort_name", "id"],
                              postgresql_include=["status"])
