"""quotes (issue 14): quotes (estimates) and their lines, numbered "QUO-" when first sent; an
accepted quote names the draft invoice it became

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(16, 4)


def upgrade():
    op.create_table(
        "quote",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id"), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("number", sa.String(40), nullable=True, unique=True),
        sa.Column("status", sa.String(10), nullable=False, server_default="draft"),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("net_total", MONEY, nullable=False, server_default="0"),
        sa.Column("tax_total", MONEY, nullable=False, server_default="0"),
        sa.Column("total", MONEY, nullable=False, server_default="0"),
        sa.Column("invoice_id", sa.Integer(), sa.ForeignKey("invoice.id", ondelete="RESTRICT"), nullable=True,
                  unique=True),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('draft', 'sent', 'accepted', 'declined', 'expired')", name="ck_quote_status"),
        sa.CheckConstraint("status = 'draft' OR number IS NOT NULL", name="ck_quote_number"),
        sa.CheckConstraint("expires_on >= issue_date", name="ck_quote_expires_on"),
        sa.CheckConstraint("(status = 'accepted') = (invoice_id IS NOT NULL)", name="ck_quote_invoice"),
    )
    op.create_index("ix_quote_customer_issue", "quote", ["customer_id", "issue_date", "id"])
    op.create_table(
        "quote_line",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("quote_id", sa.Integer(), sa.ForeignKey("quote.id", ondelete="CASCADE"), nullable=False),
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
        sa.CheckConstraint("category IN ('labour', 'parts', 'other')", name="ck_quote_line_category"),
    )
    op.create_index("ix_quote_line_quote", "quote_line", ["quote_id", "position"])
    op.bulk_insert(sa.table("document_sequence", sa.column("kind"), sa.column("prefix"), sa.column("next_number")),
                   [{"kind": "quote", "prefix": "QUO-", "next_number": 1}])


def downgrade():
    op.execute("DELETE FROM document_sequence WHERE kind = 'quote'")
    op.drop_index("ix_quote_line_quote", table_name="quote_line")
    op.drop_table("quote_line")
    op.drop_index("ix_quote_customer_issue", table_name="quote")
    op.drop_table("quote")
