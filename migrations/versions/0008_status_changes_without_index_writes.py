"""status changes that write no index: enabling and disabling become HOT updates

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23

Disabling 100,000 customers took ~50 s at a million rows: `status` was in six indexes
(the list's covering ones, a status index, the live-e-mail predicate), so each changed row
got a new entry in every index of `customer`, the seven trigram GIN indexes included.
PostgreSQL skips all of that (a HOT update) when no indexed value changes and the row's
page has room. So:

- `status_index` is a generated column: the status, except that active and disabled are
  both 'in_service'. The indexes carry it instead of `status`: archived customers are still
  hidden from the index alone, a rare status (dormant, blocked, archived) is still found by
  index, and enabling or disabling changes no indexed value.
- the table keeps 15% of each page free (fillfactor 85) for the new row versions. Adding the
  column rewrites the table on PostgreSQL, which applies it to the rows already there.
- so does `service` (suspended and restored with its customers; no index on its status),
  rewritten in its customers' order by CLUSTER.

On SQLite the column is VIRTUAL (SQLite cannot add a stored one), and plain ALTER TABLE
keeps the surname triggers of 0005.
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

EXPRESSION = "CASE WHEN status IN ('active', 'disabled') THEN 'in_service' ELSE status END"
# (name, columns, unique, where): with `status` before, with status_index after.
INDEXES = [
    ("ix_customer_sort_name_id", ["sort_name", "id", "{s}", "reseller_id"], False, None),
    ("ix_customer_reseller_sort", ["reseller_id", "sort_name", "id", "{s}"], False, None),
    ("ix_customer_surname_sort", ["surname", "sort_name", "id", "{s}", "reseller_id"], False, None),
    ("ix_customer_id_status_reseller", ["id", "{s}", "reseller_id"], False, None),
    ("ix_customer_status_id", ["{s}", "id"], False, None),
    ("ux_customer_email_live", ["email"], True, "email IS NOT NULL AND {s} <> 'archived'"),
]


def _indexes(column: str, create: bool):
    for name, columns, unique, where in INDEXES:
        if not create:
            op.drop_index(name, table_name="customer")
            continue
        kw = {}
        if where:
            kw = {"postgresql_where": sa.text(where.format(s=column)), "sqlite_where": sa.text(where.format(s=column))}
        op.create_index(name, "customer", [c.format(s=column) for c in columns], unique=unique, **kw)


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    _indexes("status", create=False)
    if postgresql:
        op.execute("ALTER TABLE customer SET (fillfactor = 85)")
        op.execute(f"ALTER TABLE customer ADD COLUMN status_index VARCHAR(10) GENERATED ALWAYS AS ({EXPRESSION}) STORED")
        op.execute("ALTER TABLE service SET (fillfactor = 85)")
        op.execute("CLUSTER service USING ix_service_customer_id")
    else:
        op.execute(f"ALTER TABLE customer ADD COLUMN status_index VARCHAR(10) GENERATED ALWAYS AS ({EXPRESSION}) VIRTUAL")
    _indexes("status_index", create=True)


def downgrade():
    _indexes("status_index", create=False)
    op.execute("ALTER TABLE customer DROP COLUMN status_index")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE customer RESET (fillfactor)")
        op.execute("ALTER TABLE service RESET (fillfactor)")
    _indexes("status", create=True)
