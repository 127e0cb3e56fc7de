"""trigram indexes for contains-search on PostgreSQL

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# ILIKE '%text%' on these columns uses a GIN trigram index on PostgreSQL.
# SQLite scans, which is fast enough at the sizes it serves.
TRIGRAM = ("name", "surname", "first_name", "company_name", "email", "phone", "mobile")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in TRIGRAM:
        op.execute(f"CREATE INDEX IF NOT EXISTS ix_customer_{column}_trgm "
                   f"ON customer USING gin ({column} gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in TRIGRAM:
        op.execute(f"DROP INDEX IF EXISTS ix_customer_{column}_trgm")
