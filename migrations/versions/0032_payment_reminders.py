"""payment reminders (issue 16): the reminder steps (company-wide settings, seeded 7, 14 and 30 days
overdue; the last attaches the statement), each customer's overdue episode and next reminder date, every
reminder sent keyed (customer, episode, step), the company's minimum net overdue, and an invoice's
"disputed" flag (a disputed invoice never counts as overdue)

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

# The defaults (services/billing/reminders.py DEFAULT_STEPS keeps the same words for tests).
STEPS = (
    (1, 7, "Payment reminder: {overdue} overdue",
     "Dear {name},\n\nOur records show {overdue} overdue on your account (the oldest amount was due on "
     "{due_date}). If you have paid it already, thank you, and please ignore this reminder.\n", None, False),
    (2, 14, "Second reminder: {overdue} overdue",
     "Dear {name},\n\n{overdue} on your account is now {days_overdue} days overdue. Please pay it, or tell us "
     "if anything is wrong with the invoices.\n", "{overdue} is overdue on your account. Please pay it or call us.",
     False),
    (3, 30, "Final reminder: {overdue} overdue",
     "Dear {name},\n\n{overdue} on your account is {days_overdue} days overdue. Your statement is attached. "
     "Please pay it now.\n", "Final reminder: {overdue} is overdue on your account. Please pay it now.", True),
)


def upgrade():
    step = op.create_table(
        "reminder_step",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sms_body", sa.Text()),
        sa.Column("attach_statement", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.CheckConstraint("position >= 1", name="ck_reminder_step_position"),
    )
    op.create_index("ux_reminder_step_position", "reminder_step", ["position"], unique=True)
    op.bulk_insert(step, [dict(position=p, days=d, subject=s, body=b, sms_body=t, attach_statement=a, active=True)
                          for p, d, s, b, t, a in STEPS])
    op.create_table(
        "reminder_state",
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("episode", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("episode_started_on", sa.Date()),
        sa.Column("last_step", sa.Integer()),
        sa.Column("last_sent_on", sa.Date()),
        sa.Column("next_reminder_on", sa.Date()),
        sa.Column("next_moved", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_reminder_state_open", "reminder_state", ["customer_id"],
                    postgresql_where=sa.text("episode_started_on IS NOT NULL"),
                    sqlite_where=sa.text("episode_started_on IS NOT NULL"))
    op.create_table(
        "payment_reminder",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id", ondelete="CASCADE"), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.Column("net_overdue", sa.Numeric(16, 4), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("by_hand", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("email_message_id", sa.Integer(), sa.ForeignKey("message.id", ondelete="SET NULL")),
        sa.Column("sms_message_id", sa.Integer(), sa.ForeignKey("message.id", ondelete="SET NULL")),
        sa.Column("created_by", sa.String(128)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ux_payment_reminder_key", "payment_reminder", ["customer_id", "episode", "step"], unique=True)
    op.create_index("ix_payment_reminder_email_message", "payment_reminder", ["email_message_id"])
    op.create_index("ix_payment_reminder_sms_message", "payment_reminder", ["sms_message_id"])
    # Plain columns (no batch rebuild of invoice or company_settings on SQLite).
    op.add_column("invoice", sa.Column("disputed", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("company_settings", sa.Column("reminder_minimum", sa.Numeric(16, 4), nullable=True))


def downgrade():
    op.drop_column("company_settings", "reminder_minimum")
    op.drop_column("invoice", "disputed")
    op.drop_index("ix_payment_reminder_sms_message", table_name="payment_reminder")
    op.drop_index("ix_payment_reminder_email_message", table_name="payment_reminder")
    op.drop_index("ux_payment_reminder_key", table_name="payment_reminder")
    op.drop_table("payment_reminder")
    op.drop_index("ix_reminder_state_open", table_name="reminder_state")
    op.drop_table("reminder_state")
    op.drop_index("ux_reminder_step_position", table_name="reminder_step")
    op.drop_table("reminder_step")
