"""payment reminders (issue 16): a reminder e-mail's statement is rendered by its delivery, not by the
daily run. `message.attach_statement_on`: the date of the outstanding statement delivery attaches before
it sends the message (NULL: none; once attached, a retry reuses the file)

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-09
"""
import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("message", sa.Column("attach_statement_on", sa.Date(), nullable=True))


def downgrade():
    op.drop_column("message", "attach_statement_on")
