"""custom fields: admin-defined fields on customers (text, number, date, choice)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "custom_field",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("choices", sa.Text(), nullable=True),
        sa.Column("required", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('text', 'number', 'date', 'choice')", name="ck_custom_field_kind"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="uq_custom_field_name"),
    )
    op.create_table(
        "custom_value",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["field_id"], ["custom_field.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("customer_id", "field_id"),
    )
    op.create_index("ix_custom_value_field_id", "custom_value", ["field_id"])


def downgrade():
    op.drop_index("ix_custom_value_field_id", table_name="custom_value")
    op.drop_table("custom_value")
    op.drop_table("custom_field")
