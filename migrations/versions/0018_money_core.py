"""money core: tax rates, payment methods, document numbers, invoices and lines, payments and
credits, allocations, releases (refunds, voided credit), balance adjustments, the ledger; a
customer's tax exemption or special rate; the company's invoice details; money columns widened to
four decimals (the most any currency has)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(16, 4)


def _by_user():
    return sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True)


def _created():
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "tax_rate",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(60), nullable=False, unique=True),
        sa.Column("percent", sa.Numeric(7, 4), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.CheckConstraint("percent >= 0 AND percent <= 100", name="ck_tax_rate_percent"),
    )
    op.create_index("ux_tax_rate_one_default", "tax_rate", ["is_default"], unique=True,
                    postgresql_where=sa.text("is_default"), sqlite_where=sa.text("is_default"))
    op.create_table(
        "payment_method",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(60), nullable=False, unique=True),
        sa.Column("nominal_code", sa.String(20), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.create_table(
        "document_sequence",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("prefix", sa.String(20), nullable=False, server_default=""),
        sa.Column("next_number", sa.Integer(), nullable=False, server_default="1"),
        sa.CheckConstraint("next_number >= 1", name="ck_document_sequence_next"),
    )
    op.create_table(
        "invoice",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id"), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("number", sa.String(40), nullable=True, unique=True),
        sa.Column("status", sa.String(10), nullable=False, server_default="draft"),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("billing_address", sa.Text(), nullable=True),
        sa.Column("net_total", MONEY, nullable=False, server_default="0"),
        sa.Column("tax_total", MONEY, nullable=False, server_default="0"),
        sa.Column("total", MONEY, nullable=False, server_default="0"),
        sa.Column("outstanding", MONEY, nullable=False, server_default="0"),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.String(255), nullable=True),
        _by_user(), _created(),
        sa.CheckConstraint("status IN ('draft', 'issued', 'part_paid', 'paid', 'void')", name="ck_invoice_status"),
        sa.CheckConstraint("outstanding >= 0 AND (status = 'draft' OR outstanding <= total)", name="ck_invoice_outstanding"),
        sa.CheckConstraint("due_date IS NULL OR due_date >= issue_date", name="ck_invoice_due_date"),
        sa.CheckConstraint("status = 'draft' OR number IS NOT NULL", name="ck_invoice_number"),
    )
    op.create_index("ix_invoice_customer_issue", "invoice", ["customer_id", "issue_date", "id"])
    op.create_index("ix_invoice_status_due", "invoice", ["status", "due_date"])
    op.create_table(
        "invoice_line",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("invoice_id", sa.Integer(), sa.ForeignKey("invoice.id", ondelete="CASCADE"), nullable=False),
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
        sa.CheckConstraint("category IN ('labour', 'parts', 'other')", name="ck_invoice_line_category"),
    )
    op.create_index("ix_invoice_line_invoice", "invoice_line", ["invoice_id", "position"])
    op.create_table(
        "payment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id"), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("unallocated", MONEY, nullable=False),
        sa.Column("is_credit", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("method_id", sa.Integer(), sa.ForeignKey("payment_method.id", ondelete="SET NULL"), nullable=True),
        sa.Column("reference", sa.String(100), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(255), nullable=True),
        sa.Column("invoice_id", sa.Integer(), sa.ForeignKey("invoice.id"), nullable=True),
        _by_user(), _created(),
        sa.CheckConstraint("kind IN ('payment', 'external', 'credit')", name="ck_payment_kind"),
        sa.CheckConstraint("amount > 0", name="ck_payment_amount"),
        sa.CheckConstraint("unallocated >= 0 AND unallocated <= amount", name="ck_payment_unallocated"),
    )
    op.create_index("ix_payment_customer", "payment", ["customer_id", "received_on", "id"])
    op.create_index("ix_payment_credit", "payment", ["is_credit", "id"])
    op.create_table(
        "allocation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("payment_id", sa.Integer(), sa.ForeignKey("payment.id"), nullable=False),
        sa.Column("invoice_id", sa.Integer(), sa.ForeignKey("invoice.id"), nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id"), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("allocated_on", sa.Date(), nullable=False),
        sa.Column("reverses_id", sa.Integer(), sa.ForeignKey("allocation.id"), nullable=True),
        _by_user(), _created(),
        sa.CheckConstraint("amount <> 0", name="ck_allocation_amount"),
    )
    op.create_index("ix_allocation_invoice", "allocation", ["invoice_id"])
    op.create_index("ix_allocation_payment", "allocation", ["payment_id"])
    op.create_index("ix_allocation_customer", "allocation", ["customer_id", "allocated_on"])
    op.create_table(
        "payment_release",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("payment_id", sa.Integer(), sa.ForeignKey("payment.id"), nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id"), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("released_on", sa.Date(), nullable=False),
        sa.Column("method_id", sa.Integer(), sa.ForeignKey("payment_method.id", ondelete="SET NULL"), nullable=True),
        sa.Column("reference", sa.String(100), nullable=True),
        sa.Column("reason", sa.String(255), nullable=True),
        _by_user(), _created(),
        sa.CheckConstraint("kind IN ('refund', 'void')", name="ck_release_kind"),
        sa.CheckConstraint("amount > 0", name="ck_release_amount"),
    )
    op.create_index("ix_release_payment", "payment_release", ["payment_id"])
    op.create_index("ix_release_customer", "payment_release", ["customer_id", "released_on"])
    op.create_table(
        "balance_adjustment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id"), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        _by_user(), _created(),
        sa.CheckConstraint("amount <> 0", name="ck_adjustment_amount"),
    )
    op.create_index("ix_adjustment_customer", "balance_adjustment", ["customer_id", "effective_on"])
    op.create_table(
        "ledger_entry",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id"), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("source_table", sa.String(30), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(255), nullable=True),
        _by_user(), _created(),
        sa.CheckConstraint("amount <> 0", name="ck_ledger_entry_amount"),
    )
    op.create_index("ix_ledger_entry_customer", "ledger_entry", ["customer_id", "id"])
    op.create_index("ix_ledger_entry_source", "ledger_entry", ["source_table", "source_id"])

    # A customer's tax (no batch rebuild of customer on SQLite: it would drop 0005's triggers).
    op.add_column("customer", sa.Column("tax_exempt", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("customer", sa.Column("tax_rate_id", sa.Integer(), nullable=True))
    if postgres:
        op.create_foreign_key("fk_customer_tax_rate", "customer", "tax_rate", ["tax_rate_id"], ["id"],
                              ondelete="SET NULL")
        # Four decimals (SQLite keeps any number in a NUMERIC column as it is given).
        op.alter_column("customer", "balance", type_=MONEY, existing_nullable=False)
        op.alter_column("service", "price", type_=MONEY, existing_nullable=False)
    for name, column in (("company_name", sa.String(160)), ("company_address", sa.Text()),
                         ("tax_number", sa.String(40)), ("bank_details", sa.Text()),
                         ("logo", sa.LargeBinary()), ("logo_type", sa.String(20)),
                         ("default_creditor_days", sa.Integer())):
        op.add_column("company_settings", sa.Column(name, column, nullable=True))


    # What a new installation starts with: the usual ways to pay, UK-style tax rates (admins change
    # them in the browser), and the invoice numbers.
    op.bulk_insert(sa.table("payment_method", sa.column("name"), sa.column("nominal_code"), sa.column("active")), [
        {"name": name, "nominal_code": code, "active": True} for name, code in (
            ("Cash", "1230"), ("Card", "1200"), ("Bank transfer", "1200"), ("Cheque", "1200"),
            ("Direct debit", "1200"), ("Other", "1200"))])
    op.bulk_insert(sa.table("tax_rate", sa.column("name"), sa.column("percent", sa.Numeric(7, 4)),
                            sa.column("is_default", sa.Boolean())), [
        {"name": "Standard rate", "percent": 20, "is_default": True},
        {"name": "Reduced rate", "percent": 5, "is_default": False},
        {"name": "Zero rate", "percent": 0, "is_default": False}])
    op.bulk_insert(sa.table("document_sequence", sa.column("kind"), sa.column("prefix"), sa.column("next_number")),
                   [{"kind": "invoice", "prefix": "INV-", "next_number": 1}])


def downgrade():
    for name in ("company_name", "company_address", "tax_number", "bank_details", "logo", "logo_type",
                 "default_creditor_days"):
        op.drop_column("company_settings", name)
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("service", "price", type_=sa.Numeric(12, 2), existing_nullable=False)
        op.alter_column("customer", "balance", type_=sa.Numeric(14, 2), existing_nullable=False)
        op.drop_constraint("fk_customer_tax_rate", "customer", type_="foreignkey")
    op.drop_column("customer", "tax_rate_id")
    op.drop_column("customer", "tax_exempt")
    for table in ("ledger_entry", "balance_adjustment", "payment_release", "allocation", "payment", "invoice_line",
                  "invoice", "document_sequence", "payment_method", "tax_rate"):
        op.drop_table(table)
