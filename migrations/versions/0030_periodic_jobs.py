"""periodic jobs (issue 16): one row per periodic job (app/jobs/schedule.py): when it is next due and
how its last run went. A run claims the row with a conditional UPDATE (next_due_at <= now), so a
job runs once per slot whoever schedules it (a worker's RQ cron, `flask jobs run-due` from cron).

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "periodic_job",
        sa.Column("name", sa.String(60), primary_key=True),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_started_at", sa.DateTime(timezone=True)),
        sa.Column("last_finished_at", sa.DateTime(timezone=True)),
        sa.Column("last_status", sa.String(8)),
        sa.Column("last_error", sa.Text()),
        sa.Column("last_result", sa.JSON()),
        sa.Column("runner", sa.String(200)),
        sa.CheckConstraint("last_status IN ('running', 'done', 'failed')", name="ck_periodic_job_last_status"),
    )
    op.create_index("ix_periodic_job_next_due_at", "periodic_job", ["next_due_at"])


def downgrade():
    op.drop_index("ix_periodic_job_next_due_at", table_name="periodic_job")
    op.drop_table("periodic_job")
