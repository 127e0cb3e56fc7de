"""money search indexes (issue 14): contains-search on an invoice's number and a payment's
reference through trigram indexes on PostgreSQL (ILIKE '%text%' scanned two million payments, 1.7 s
at a million customers), a customer's credits found without reading its other payments, and the
credit still unallocated (the Receivables page's sums by currency) without reading every payment,
and the Payments list filtered by kind or sorted by date

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

TRIGRAM = (("invoice", "number"), ("payment", "reference"))


def upgrade():
    op.create_index("ix_payment_credit_customer", "payment", ["customer_id"],
                    postgresql_where=sa.text("is_credit"), sqlite_where=sa.text("is_credit"))
    op.create_index("ix_payment_kind", "payment", ["kind", "id"])  # the Payments list's kind filter
    op.create_index("ix_payment_received", "payment", ["received_on", "id"])  # ...and its sort by date
    op.create_index("ix_payment_open_credit", "payment", ["currency", "received_on"],
                    postgresql_where=sa.text("unallocated > 0"), sqlite_where=sa.text("unallocated > 0"))
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, column in TRIGRAM:
        op.execute(f"CREATE INDEX IF NOT EXISTS ix_{table}_{column}_trgm ON {table} USING gin ({column} gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table, column in TRIGRAM:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_{column}_trgm")
    op.drop_index("ix_payment_open_credit", "payment")
    op.drop_index("ix_payment_received", "payment")
    op.drop_index("ix_payment_kind", "payment")
    op.drop_index("ix_payment_credit_customer", "payment")
