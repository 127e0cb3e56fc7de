"""faster searches: every surname once, and customer ids with status and reseller

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

A contains-search ("mit") matches customers all over the table: fetching each
match's sort key from the table was most of the search (18,000 Smiths sit in
13,000 of 25,000 table pages at a million customers). customer_surname holds each
surname once; the search finds the few surnames that match there, then their
customers from ix_customer_surname_sort alone. Triggers on customer keep it
complete, whatever writes the row (services, COPY, SQL); a surname nobody has any
more is left in place, as it matches no customer.

ix_customer_id_status_reseller answers "is this customer live, and in scope?" from
the index when a filter finds customers by id (a tag, say): counting a tag's first
thousand customers no longer reads 25,000 rows of the table.

On SQLite, a later migration that rebuilds the customer table (batch mode with
recreate) drops these triggers: it must create them again.
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = {
    "trg_customer_surname_insert": "AFTER INSERT ON customer",
    "trg_customer_surname_update": "AFTER UPDATE OF surname ON customer",
}


def upgrade():
    op.create_table("customer_surname", sa.Column("surname", sa.String(80), primary_key=True))
    op.create_index("ix_customer_surname_sort", "customer", ["surname", "sort_name", "id", "status", "reseller_id"])
    op.create_index("ix_customer_id_status_reseller", "customer", ["id", "status", "reseller_id"])
    op.execute("INSERT INTO customer_surname (surname) SELECT DISTINCT surname FROM customer WHERE surname IS NOT NULL")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_customer_surname_trgm_lexicon ON customer_surname USING gin (surname gin_trgm_ops)")
        op.execute("""
            CREATE FUNCTION customer_surname_keep() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO customer_surname (surname) VALUES (NEW.surname) ON CONFLICT DO NOTHING;
                RETURN NULL;
            END $$""")
        op.execute("""
            CREATE TRIGGER trg_customer_surname AFTER INSERT OR UPDATE OF surname ON customer
            FOR EACH ROW WHEN (NEW.surname IS NOT NULL) EXECUTE FUNCTION customer_surname_keep()""")
    else:
        for name, event in SQLITE_TRIGGERS.items():
            op.execute(f"""
                CREATE TRIGGER {name} {event} FOR EACH ROW WHEN NEW.surname IS NOT NULL
                BEGIN INSERT OR IGNORE INTO customer_surname (surname) VALUES (NEW.surname); END""")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER trg_customer_surname ON customer")
        op.execute("DROP FUNCTION customer_surname_keep()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index("ix_customer_id_status_reseller", "customer")
    op.drop_index("ix_customer_surname_sort", "customer")
    op.drop_table("customer_surname")
