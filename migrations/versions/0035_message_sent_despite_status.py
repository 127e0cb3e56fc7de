"""payment reminders (issue 16): a reminder an admin sends by hand to a dormant, blocked or archived
customer goes despite the status. `message.sent_despite_status`: set only by reminders.send_by_hand once
the admin confirms; delivery then lets the message through the customer's status (and nothing else: the
recipient's opt-out and a missing address still skip it). False for every other message.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("message", sa.Column("sent_despite_status", sa.Boolean(), nullable=False,
                                       server_default=sa.false()))


def downgrade():
    with op.batch_alter_table("message") as batch:
        batch.drop_column("sent_despite_status")
