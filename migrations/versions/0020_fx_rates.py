"""FX rates (issue 14): global rates by pair and effective date, a customer's own rates, and the rate
an issued document was issued with

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

RATE = sa.Numeric(20, 10)


def upgrade():
    op.create_table(
        "fx_rate",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("from_currency", sa.String(3), nullable=False),
        sa.Column("to_currency", sa.String(3), nullable=False),
        sa.Column("rate", RATE, nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rate > 0", name="ck_fx_rate_positive"),
        sa.CheckConstraint("from_currency <> to_currency", name="ck_fx_rate_pair"),
        sa.UniqueConstraint("from_currency", "to_currency", "effective_on", name="uq_fx_rate_pair_date"),
    )
    op.create_index("ix_fx_rate_lookup", "fx_rate",
                    ["from_currency", "to_currency", sa.text("effective_on DESC")])
    op.create_table(
        "customer_fx_rate",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id", ondelete="CASCADE"), nullable=False),
        sa.Column("from_currency", sa.String(3), nullable=False),
        sa.Column("to_currency", sa.String(3), nullable=False),
        sa.Column("rate", RATE, nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rate > 0", name="ck_customer_fx_rate_positive"),
        sa.CheckConstraint("from_currency <> to_currency", name="ck_customer_fx_rate_pair"),
        sa.UniqueConstraint("customer_id", "from_currency", "to_currency", "effective_on",
                            name="uq_customer_fx_rate_pair_date"),
    )
    op.create_index("ix_customer_fx_rate_lookup", "customer_fx_rate",
                    ["customer_id", "from_currency", "to_currency", sa.text("effective_on DESC")])
    # Plain ADD COLUMN (nullable, no default): no table rebuild on SQLite.
    op.add_column("invoice", sa.Column("fx_rate", RATE, nullable=True))
    op.add_column("invoice", sa.Column("fx_rate_on", sa.Date(), nullable=True))


def downgrade():
    # SQLite (3.35+) drops a plain column in place; a column in no index or constraint.
    op.drop_column("invoice", "fx_rate_on")
    op.drop_column("invoice", "fx_rate")
    op.drop_index("ix_customer_fx_rate_lookup", table_name="customer_fx_rate")
    op.drop_table("customer_fx_rate")
    op.drop_index("ix_fx_rate_lookup", table_name="fx_rate")
    op.drop_table("fx_rate")
