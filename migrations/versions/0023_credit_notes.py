"""credit notes (issue 14): credit notes and their lines, numbered "CN-"; a payment of kind
"credit_note" (the account credit a credit note gives, kind widened to 20 characters); the company's
default breakdown style

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(16, 4)
KINDS = "kind IN ('payment', 'external', 'credit', 'credit_note')"
OLD_KINDS = "kind IN ('payment', 'external', 'credit')"


def upgrade():
    with op.batch_alter_table("payment") as batch:
        batch.alter_column("kind", existing_type=sa.String(10), type_=sa.String(20), existing_nullable=False)
        batch.drop_constraint("ck_payment_kind", type_="check")
        batch.create_check_constraint("ck_payment_kind", KINDS)
    op.add_column("company_settings", sa.Column("credit_note_breakdown", sa.String(20), nullable=True))
    op.create_table(
        "credit_note",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id"), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("number", sa.String(40), nullable=False, unique=True),
        sa.Column("status", sa.String(10), nullable=False, server_default="issued"),
        sa.Column("credit_date", sa.Date(), nullable=False),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("breakdown_style", sa.String(20), nullable=False, server_default="full"),
        sa.Column("invoice_id", sa.Integer(), sa.ForeignKey("invoice.id"), nullable=True),
        sa.Column("payment_id", sa.Integer(), sa.ForeignKey("payment.id"), nullable=False, unique=True),
        sa.Column("billing_address", sa.Text(), nullable=True),
        sa.Column("fx_rate", sa.Numeric(20, 10), nullable=True),
        sa.Column("fx_rate_on", sa.Date(), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.String(255), nullable=True),
        sa.Column("net_total", MONEY, nullable=False, server_default="0"),
        sa.Column("tax_total", MONEY, nullable=False, server_default="0"),
        sa.Column("total", MONEY, nullable=False, server_default="0"),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('issued', 'void')", name="ck_credit_note_status"),
        sa.CheckConstraint("breakdown_style IN ('none', 'category', 'full', 'full_category')",
                           name="ck_credit_note_breakdown"),
        sa.CheckConstraint("total > 0", name="ck_credit_note_total"),
    )
    op.create_index("ix_credit_note_customer", "credit_note", ["customer_id", "credit_date", "id"])
    op.create_index("ix_credit_note_invoice", "credit_note", ["invoice_id"])
    op.create_table(
        "credit_note_line",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("credit_note_id", sa.Integer(), sa.ForeignKey("credit_note.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("invoice_line_id", sa.Integer(), sa.ForeignKey("invoice_line.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("category", sa.String(10), nullable=False, server_default="other"),
        sa.Column("quantity", sa.Numeric(12, 4), nullable=False),
        sa.Column("unit_price", MONEY, nullable=False),
        sa.Column("tax_rate_id", sa.Integer(), sa.ForeignKey("tax_rate.id", ondelete="SET NULL"), nullable=True),
        sa.Column("tax_name", sa.String(60), nullable=True),
        sa.Column("tax_percent", sa.Numeric(7, 4), nullable=False, server_default="0"),
        sa.Column("net", MONEY, nullable=False),
        sa.Column("tax", MONEY, nullable=False),
        sa.CheckConstraint("category IN ('labour', 'parts', 'other')", name="ck_credit_note_line_category"),
    )
    op.create_index("ix_credit_note_line_note", "credit_note_line", ["credit_note_id", "position"])
    op.bulk_insert(sa.table("document_sequence", sa.column("kind"), sa.column("prefix"), sa.column("next_number")),
                   [{"kind": "credit_note", "prefix": "CN-", "next_number": 1}])


def downgrade():
    op.execute("DELETE FROM document_sequence WHERE kind = 'credit_note'")
    op.drop_index("ix_credit_note_line_note", table_name="credit_note_line")
    op.drop_table("credit_note_line")
    op.drop_index("ix_credit_note_invoice", table_name="credit_note")
    op.drop_index("ix_credit_note_customer", table_name="credit_note")
    op.drop_table("credit_note")
    op.drop_column("company_settings", "credit_note_breakdown")
    # A credit note's payment cannot outlive the kind: the downgrade refuses rather than lose money.
    with op.batch_alter_table("payment") as batch:
        batch.drop_constraint("ck_payment_kind", type_="check")
        batch.create_check_constraint("ck_payment_kind", OLD_KINDS)
        batch.alter_column("kind", existing_type=sa.String(20), type_=sa.String(10), existing_nullable=False)
