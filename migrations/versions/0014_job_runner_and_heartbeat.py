"""job: runner, heartbeat_at and done_through, so that a job whose process died is shown failed
and can be started again from the chunk it stopped at

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN on both databases (no batch rebuild on SQLite: nothing else changes).
    op.add_column("job", sa.Column("runner", sa.String(200), nullable=True))
    op.add_column("job", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("job", sa.Column("done_through", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("job") as batch:
        batch.drop_column("done_through")
        batch.drop_column("heartbeat_at")
        batch.drop_column("runner")
