"""suspension for late payment (issue 16): the company's grace period after the final reminder step
(empty: no automatic suspension), and on each customer's reminder state the day the run suspended it
(NULL: not suspended by the run), whether an admin took the episode over (on hold) and the date an admin
postponed suspension until

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-08
"""
import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade():
    # Plain columns (no batch rebuild on SQLite).
    op.add_column("company_settings", sa.Column("suspend_grace_days", sa.Integer(), nullable=True))
    op.add_column("reminder_state", sa.Column("suspended_on", sa.Date(), nullable=True))
    op.add_column("reminder_state", sa.Column("suspension_held", sa.Boolean(), nullable=False,
                                              server_default=sa.false()))
    op.add_column("reminder_state", sa.Column("suspension_postponed_until", sa.Date(), nullable=True))


def downgrade():
    op.drop_column("reminder_state", "suspension_postponed_until")
    op.drop_column("reminder_state", "suspension_held")
    op.drop_column("reminder_state", "suspended_on")
    op.drop_column("company_settings", "suspend_grace_days")
