"""invoice settings (issue 15): the invoice address format (the company's default and a customer's own),
additional invoice addresses shared between customers (an insurer, a landlord) that a customer or one
invoice may be sent to, and a customer's billing settings (do not suspend, payment reminders, statements)

Revision ID: 0028
Revises: 0026
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

CUSTOMER_COLUMNS = (
    ("invoice_address_format", sa.String(1000), None),
    ("invoice_address_id", sa.Integer(), None),
    ("do_not_suspend", sa.Boolean(), sa.false()),
    ("payment_reminders", sa.String(10), None),
    ("group_statements_by_contact", sa.Boolean(), sa.false()),
    ("attach_invoices_to_statements", sa.Boolean(), sa.false()),
)


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "invoice_address",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reseller_id", sa.Integer(), sa.ForeignKey("reseller.id", ondelete="RESTRICT"), nullable=True),
        sa.Column("name", sa.String(160), nullable=False),
        sa.Column("contact_name", sa.String(120)),
        sa.Column("line1", sa.String(120), nullable=False),
        sa.Column("line2", sa.String(120)),
        sa.Column("line3", sa.String(120)),
        sa.Column("town", sa.String(80)),
        sa.Column("county", sa.String(80)),
        sa.Column("postcode", sa.String(12)),
        sa.Column("country", sa.String(2)),
        sa.Column("email", sa.String(254)),
        sa.Column("phone", sa.String(20)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_invoice_address_reseller_name", "invoice_address", ["reseller_id", "name"])
    # No batch rebuild of customer on SQLite (it would drop 0005's triggers): plain columns, their
    # foreign keys and check on PostgreSQL only (the services check them on SQLite).
    for name, column, default in CUSTOMER_COLUMNS:
        op.add_column("customer", sa.Column(name, column, nullable=default is None, server_default=default))
    op.create_index("ix_customer_invoice_address_id", "customer", ["invoice_address_id"])
    op.add_column("invoice", sa.Column("invoice_address_id", sa.Integer(), nullable=True))
    op.create_index("ix_invoice_invoice_address_id", "invoice", ["invoice_address_id"])
    if postgres:
        op.create_foreign_key("fk_customer_invoice_address", "customer", "invoice_address", ["invoice_address_id"],
                              ["id"], ondelete="RESTRICT")
        op.create_foreign_key("fk_invoice_invoice_address", "invoice", "invoice_address", ["invoice_address_id"],
                              ["id"], ondelete="RESTRICT")
        op.create_check_constraint("ck_customer_payment_reminders", "customer",
                                   "payment_reminders IN ('automatic', 'manual', 'off')")
    op.add_column("company_settings", sa.Column("invoice_address_format", sa.String(1000), nullable=True))
    op.add_column("company_settings", sa.Column("default_payment_reminders", sa.String(10), nullable=True))


def downgrade():
    op.drop_column("company_settings", "default_payment_reminders")
    op.drop_column("company_settings", "invoice_address_format")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("ck_customer_payment_reminders", "customer", type_="check")
        op.drop_constraint("fk_invoice_invoice_address", "invoice", type_="foreignkey")
        op.drop_constraint("fk_customer_invoice_address", "customer", type_="foreignkey")
    op.drop_index("ix_invoice_invoice_address_id", table_name="invoice")
    op.drop_column("invoice", "invoice_address_id")
    op.drop_index("ix_customer_invoice_address_id", table_name="customer")
    for name, _column, _default in reversed(CUSTOMER_COLUMNS):
        op.drop_column("customer", name)
    op.drop_index("ix_invoice_address_reseller_name", table_name="invoice_address")
    op.drop_table("invoice_address")
