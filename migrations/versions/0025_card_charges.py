"""card charges (issue 14): a charge of a stored card written before the processor is asked, so a
process that dies between the processor's approval and the payment's commit leaves a pending row
that is settled from the processor's answer for the same key (never charged twice)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "card_charge",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(36), nullable=False, unique=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id", ondelete="CASCADE"), nullable=False),
        sa.Column("card_id", sa.Integer(), sa.ForeignKey("stored_card.id", ondelete="CASCADE"), nullable=False),
        sa.Column("invoice_id", sa.Integer(), sa.ForeignKey("invoice.id", ondelete="SET NULL"), nullable=True),
        sa.Column("amount", sa.Numeric(16, 4), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("processor_reference", sa.String(100), nullable=True),
        sa.Column("decline_reason", sa.String(255), nullable=True),
        sa.Column("payment_id", sa.Integer(), sa.ForeignKey("payment.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'declined', 'recorded', 'abandoned')", name="ck_card_charge_status"),
        sa.CheckConstraint("amount > 0", name="ck_card_charge_amount"),
        sa.CheckConstraint("payment_id IS NULL OR status = 'recorded'", name="ck_card_charge_payment"),
    )
    op.create_index("ix_card_charge_customer", "card_charge", ["customer_id", "status"])
    op.create_index("ix_card_charge_pending", "card_charge", ["status", "created_at"])


def downgrade():
    op.drop_table("card_charge")
