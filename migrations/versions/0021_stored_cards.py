"""stored cards (issue 14): a customer's cards as processor tokens, with brand, last four digits,
expiry and name on card; one default a customer; a removed card kept for the payments that used it

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    last4 = "last4 ~ '^[0-9]{4}$'" if postgres else "length(last4) = 4 AND last4 NOT GLOB '*[^0-9]*'"
    op.create_table(
        "stored_card",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token", sa.String(255), nullable=False),
        sa.Column("brand", sa.String(20), nullable=False),
        sa.Column("last4", sa.String(4), nullable=False),
        sa.Column("exp_month", sa.SmallInteger(), nullable=False),
        sa.Column("exp_year", sa.SmallInteger(), nullable=False),
        sa.Column("name_on_card", sa.String(100), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("exp_month BETWEEN 1 AND 12", name="ck_stored_card_exp_month"),
        sa.CheckConstraint("exp_year BETWEEN 2000 AND 2199", name="ck_stored_card_exp_year"),
        sa.CheckConstraint("removed_at IS NULL OR NOT is_default", name="ck_stored_card_removed_not_default"),
        sa.CheckConstraint(last4, name="ck_stored_card_last4"),
    )
    op.create_index("ix_stored_card_customer", "stored_card", ["customer_id", "id"])
    op.create_index("ux_stored_card_one_default", "stored_card", ["customer_id"], unique=True,
                    postgresql_where=sa.text("is_default"), sqlite_where=sa.text("is_default"))


def downgrade():
    op.drop_index("ux_stored_card_one_default", table_name="stored_card")
    op.drop_index("ix_stored_card_customer", table_name="stored_card")
    op.drop_table("stored_card")
