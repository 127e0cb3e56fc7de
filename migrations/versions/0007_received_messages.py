"""received messages: a message can be "received" (a reply from a customer), and the
indexes that find who sent it (the last message to that address, a contact's e-mail or phone);
claimed_at: when a worker took a message to send it (to tell a stuck one from a slow queue)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23

On SQLite the message table is rebuilt to change its CHECK constraint (batch mode);
message has no triggers, so nothing is lost by the rebuild.
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OLD = "status IN ('queued', 'sending', 'sent', 'failed', 'skipped')"
NEW = "status IN ('queued', 'sending', 'sent', 'failed', 'skipped', 'received')"


def _replace(condition, claimed_at: bool):
    with op.batch_alter_table("message") as batch:
        batch.drop_constraint("ck_message_status", type_="check")
        batch.create_check_constraint("ck_message_status", condition)
        if claimed_at:
            batch.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        else:
            batch.drop_column("claimed_at")


def upgrade():
    _replace(NEW, claimed_at=True)
    op.create_index("ix_message_recipient_id", "message", ["recipient", "id"])
    op.create_index("ix_contact_email", "contact", ["email"])
    op.create_index("ix_contact_phone_number", "contact_phone", ["number"])


def downgrade():
    op.drop_index("ix_contact_phone_number", table_name="contact_phone")
    op.drop_index("ix_contact_email", table_name="contact")
    op.drop_index("ix_message_recipient_id", table_name="message")
    op.execute("DELETE FROM message WHERE status = 'received'")
    _replace(OLD, claimed_at=False)
