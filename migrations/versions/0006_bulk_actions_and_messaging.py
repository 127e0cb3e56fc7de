"""bulk actions and messaging: services, preferences, the outbox, background jobs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23

Columns are added and dropped with plain ALTER TABLE (SQLite 3.35+ drops columns
itself): alembic's drop_column rebuilds the table on SQLite, which would lose the
triggers of 0005.
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PREFERENCES = [("service_email", True), ("service_sms", True), ("service_letter", True), ("service_phone", True),
               ("marketing_email", False), ("marketing_sms", False), ("marketing_letter", False),
               ("marketing_phone", False)]


def upgrade():
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="ck_job_status"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "job_customer",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "customer_id"),
    )
    op.create_table(
        "service",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("billing_cycle", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("suspended_by_disable", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("billing_cycle IN ('monthly', 'quarterly', 'annually', 'one-off')",
                           name="ck_service_billing_cycle"),
        sa.CheckConstraint("status IN ('active', 'suspended', 'cancelled')", name="ck_service_status"),
        sa.CheckConstraint("price >= 0", name="ck_service_price"),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_service_customer_id", "service", ["customer_id"])
    op.create_table(
        "message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=5), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=True),
        sa.Column("recipient_name", sa.String(length=250), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("skip_reason", sa.String(length=60), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("transport", sa.String(length=20), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("resend_of_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("channel IN ('email', 'sms')", name="ck_message_channel"),
        sa.CheckConstraint("direction IN ('out', 'in')", name="ck_message_direction"),
        sa.CheckConstraint("kind IN ('message', 'notification')", name="ck_message_kind"),
        sa.CheckConstraint("purpose IN ('service', 'marketing')", name="ck_message_purpose"),
        sa.CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed', 'skipped')", name="ck_message_status"),
        sa.ForeignKeyConstraint(["batch_id"], ["job.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["resend_of_id"], ["message.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_message_batch_id", "message", ["batch_id"])
    op.create_index("ix_message_customer_id_id", "message", ["customer_id", "id"])
    op.create_index("ix_message_status_id", "message", ["status", "id"])
    op.create_index("ix_message_contact_id", "message", ["contact_id"])
    op.create_index("ix_message_resend_of_id", "message", ["resend_of_id"])
    op.create_table(
        "message_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("transport", sa.String(length=20), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_message_attempt_message_id", "message_attempt", ["message_id"])
    for table in ("contact", "customer"):
        for name, default in PREFERENCES:
            op.add_column(table, sa.Column(name, sa.Boolean(), nullable=False,
                                           server_default=sa.true() if default else sa.false()))
        op.add_column(table, sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    for table in ("customer", "contact"):
        for name, _ in [*PREFERENCES, ("unsubscribed_at", None)]:
            op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
    op.drop_table("message_attempt")
    op.drop_table("message")
    op.drop_table("service")
    op.drop_table("job_customer")
    op.drop_table("job")
