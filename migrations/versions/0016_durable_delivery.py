"""message: due_at (when it may be tried: first send or retry, kept in the database), claimed_by
and lease_until (the worker sending it, alive while it renews the lease), and the status
"uncertain" (it may have gone out: never sent again by itself)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

On SQLite the message table is rebuilt to change its CHECK constraint (batch mode);
message has no triggers, so nothing is lost by the rebuild.
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

OLD = "status IN ('queued', 'sending', 'sent', 'failed', 'skipped', 'received')"
NEW = "status IN ('queued', 'sending', 'sent', 'failed', 'uncertain', 'skipped', 'received')"
QUEUED = sa.text("status = 'queued'")


def upgrade():
    op.add_column("message", sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("message", sa.Column("claimed_by", sa.String(200), nullable=True))
    op.add_column("message", sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE message SET due_at = created_at")
    with op.batch_alter_table("message") as batch:
        batch.alter_column("due_at", existing_type=sa.DateTime(timezone=True), nullable=False,
                           server_default=sa.func.now())
        batch.alter_column("status", existing_type=sa.String(8), type_=sa.String(10), existing_nullable=False)
        batch.drop_constraint("ck_message_status", type_="check")
        batch.create_check_constraint("ck_message_status", NEW)
    op.create_index("ix_message_due", "message", ["due_at", "id"], postgresql_where=QUEUED, sqlite_where=QUEUED)


def downgrade():
    op.drop_index("ix_message_due", table_name="message")
    op.execute("UPDATE message SET status = 'failed' WHERE status = 'uncertain'")
    with op.batch_alter_table("message") as batch:
        batch.drop_constraint("ck_message_status", type_="check")
        batch.create_check_constraint("ck_message_status", OLD)
        batch.alter_column("status", existing_type=sa.String(10), type_=sa.String(8), existing_nullable=False)
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
        batch.drop_column("due_at")
