"""cash allocation (issue 15): a payment of kind "write_off" (a small write-off: the last few units
of an invoice, posted as a source fully allocated to it), the company's write-off limit and its
default for using account credit when an invoice is issued, and the customer's own choice of it
(NULL: the company's default; checked by the service, not by a CHECK: a batch rebuild of customer
on SQLite would drop 0005's surname triggers)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

KINDS = "kind IN ('payment', 'external', 'credit', 'credit_note', 'write_off')"
OLD_KINDS = "kind IN ('payment', 'external', 'credit', 'credit_note')"


def upgrade():
    with op.batch_alter_table("payment") as batch:
        batch.drop_constraint("ck_payment_kind", type_="check")
        batch.create_check_constraint("ck_payment_kind", KINDS)
    op.add_column("company_settings", sa.Column("write_off_limit", sa.Numeric(16, 4), nullable=True))
    op.add_column("company_settings", sa.Column("use_credit_default", sa.String(10), nullable=True))
    op.add_column("customer", sa.Column("use_credit", sa.String(10), nullable=True))


def downgrade():
    op.drop_column("customer", "use_credit")
    op.drop_column("company_settings", "use_credit_default")
    op.drop_column("company_settings", "write_off_limit")
    # A write-off's payment cannot outlive the kind: the downgrade refuses rather than lose money.
    with op.batch_alter_table("payment") as batch:
        batch.drop_constraint("ck_payment_kind", type_="check")
        batch.create_check_constraint("ck_payment_kind", OLD_KINDS)
