"""customer aliases: a merged duplicate's id leads to the customer it was merged into;
dormant site addresses (with their customer's dormancy)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "customer_alias",
        sa.Column("alias_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("merged_by", sa.String(length=128), nullable=True),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("alias_id"),
    )
    op.create_index("ix_customer_alias_customer_id", "customer_alias", ["customer_id"])
    # Plain ALTER TABLE: address has no triggers, but batch mode would rebuild it for nothing.
    op.add_column("address", sa.Column("dormant", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("address", sa.Column("dormant_by_customer", sa.Boolean(), server_default=sa.false(),
                                       nullable=False))


def downgrade():
    op.execute("ALTER TABLE address DROP COLUMN dormant_by_customer")
    op.execute("ALTER TABLE address DROP COLUMN dormant")
    op.drop_index("ix_customer_alias_customer_id", table_name="customer_alias")
    op.drop_table("customer_alias")
