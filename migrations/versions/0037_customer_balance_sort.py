"""the sort by balance walks customer_balance, not customer (issue 17)

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-07

customer.balance had an index (ix_customer_balance_id, for the lists' sort by balance): every
balance update then wrote a new entry into all of customer's indexes (PostgreSQL makes an update HOT
only when no indexed column changes), 22% of a billing run at a million customers. customer_balance
holds a copy of each balance with the sort index, and customer.balance has none: moving it is a HOT
update (customer's fillfactor is 85, migration 0008).

Every customer has its row: backfilled here, then created by triggers on customer whatever inserts
the customer (services, COPY, SQL), as 0005's surname triggers do. On PostgreSQL one trigger a
statement, over its transition table (a COPY of 100,000 customers is one INSERT ... SELECT), on
SQLite one a row. The ledger service moves the copy with customer.balance.

On SQLite, a later migration that rebuilds the customer table (batch mode with recreate) drops the
trigger: it must create it again.
"""
import sqlalchemy as sa
from alembic import op

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "customer_balance",
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("balance", sa.Numeric(16, 4), nullable=False, server_default="0"),
    )
    op.execute("INSERT INTO customer_balance (customer_id, balance) SELECT id, coalesce(balance, 0) FROM customer")
    op.create_index("ix_customer_balance_sort", "customer_balance", ["balance", "customer_id"])
    op.drop_index("ix_customer_balance_id", "customer")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION customer_balance_add() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO customer_balance (customer_id, balance) SELECT id, coalesce(balance, 0) FROM added;
                RETURN NULL;
            END $$""")
        op.execute("""
            CREATE TRIGGER trg_customer_balance AFTER INSERT ON customer
            REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION customer_balance_add()""")
    else:
        op.execute("""
            CREATE TRIGGER trg_customer_balance_insert AFTER INSERT ON customer FOR EACH ROW
            BEGIN INSERT INTO customer_balance (customer_id, balance) VALUES (NEW.id, coalesce(NEW.balance, 0)); END""")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER trg_customer_balance ON customer")
        op.execute("DROP FUNCTION customer_balance_add()")
    else:
        op.execute("DROP TRIGGER trg_customer_balance_insert")
    op.create_index("ix_customer_balance_id", "customer", ["balance", "id"])
    op.drop_table("customer_balance")
