"""recurring billing of customer services (issue 17): a service's next billing date, billing day, end
date and tax rate; each period billed (service_period, unique per service and period start); each
billing run and its report (billing_run); the company's billing settings; message.attach_invoice_id
(the invoice PDF a delivery renders and attaches).

Existing services: a recurring one (not cancelled) is billed from its first period starting on or after
the day of the upgrade, its periods anchored on the day of the month it started (what came before is
taken as billed outside this system); a one-off one is taken as billed (next_billing_on NULL). The
dates are worked out per distinct (start date, cycle): a few thousand at most, whatever the number of
services.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-06
"""
import calendar
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None

MONTHS = {"monthly": 1, "quarterly": 3, "annually": 12}


def _add_months(day: date, months: int, anchor: int) -> date:
    """`day` moved on by `months`, on the anchor day of that month (its last day when shorter). Frozen
    here as services/billing/periods.py had it when this migration was written."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(anchor, calendar.monthrange(year, month + 1)[1]))


def _first_on_or_after(started: date, months: int, today: date) -> date:
    if started >= today:
        return started
    whole = (today.year - started.year) * 12 + today.month - started.month
    n = max(0, whole // months * months - months)
    found = _add_months(started, n, started.day)
    while found < today:
        n += months
        found = _add_months(started, n, started.day)
    return found


def upgrade():
    op.add_column("service", sa.Column("next_billing_on", sa.Date(), nullable=True))
    op.add_column("service", sa.Column("billing_day", sa.Integer(), nullable=True))
    op.add_column("service", sa.Column("ends_on", sa.Date(), nullable=True))
    with op.batch_alter_table("service") as batch:
        batch.add_column(sa.Column("tax_rate_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_service_tax_rate_id_tax_rate", "tax_rate", ["tax_rate_id"], ["id"],
                                 ondelete="SET NULL")
        batch.create_check_constraint("ck_service_billing_day", "billing_day BETWEEN 1 AND 31")
    op.create_index("ix_service_next_billing", "service", ["next_billing_on"],
                    postgresql_where=sa.text("next_billing_on IS NOT NULL"),
                    sqlite_where=sa.text("next_billing_on IS NOT NULL"))
    op.create_table(
        "billing_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="running"),
        sa.Column("started_by", sa.String(128)),
        sa.Column("issued", sa.Boolean(), nullable=False),
        sa.Column("invoices", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("lines", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("totals", sa.JSON()),
        sa.Column("skipped", sa.JSON()),
        sa.Column("error", sa.Text()),
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("job.id", ondelete="SET NULL")),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('running', 'finished', 'failed')", name="ck_billing_run_status"),
    )
    op.create_table(
        "service_period",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("service_id", sa.Integer(), sa.ForeignKey("service.id", ondelete="CASCADE"), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(16, 4), nullable=False),
        sa.Column("invoice_id", sa.Integer(), sa.ForeignKey("invoice.id", ondelete="SET NULL")),
        sa.Column("invoice_line_id", sa.Integer(), sa.ForeignKey("invoice_line.id", ondelete="SET NULL")),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("billing_run.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_on >= starts_on", name="ck_service_period_dates"),
    )
    op.create_index("ux_service_period_key", "service_period", ["service_id", "starts_on"], unique=True)
    op.create_index("ix_service_period_invoice", "service_period", ["invoice_id"])
    for name in ("billing_pro_rata", "billing_drafts", "billing_email", "bill_suspended"):
        op.add_column("company_settings", sa.Column(name, sa.Boolean(), nullable=True))
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("attach_invoice_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_message_attach_invoice_id_invoice", "invoice", ["attach_invoice_id"], ["id"],
                                 ondelete="SET NULL")

    service = sa.table("service", sa.column("started_on", sa.Date()), sa.column("billing_cycle", sa.String()),
                       sa.column("status", sa.String()), sa.column("next_billing_on", sa.Date()),
                       sa.column("billing_day", sa.Integer()))
    connection = op.get_bind()
    today = date.today()
    pairs = connection.execute(sa.select(service.c.started_on, service.c.billing_cycle).distinct().where(
        service.c.status != "cancelled", service.c.billing_cycle.in_(list(MONTHS)))).all()
    for started, cycle in pairs:
        connection.execute(service.update().where(
            service.c.started_on == started, service.c.billing_cycle == cycle, service.c.status != "cancelled")
            .values(next_billing_on=_first_on_or_after(started, MONTHS[cycle], today), billing_day=started.day))


def downgrade():
    with op.batch_alter_table("message") as batch:
        batch.drop_constraint("fk_message_attach_invoice_id_invoice", type_="foreignkey")
        batch.drop_column("attach_invoice_id")
    for name in ("billing_pro_rata", "billing_drafts", "billing_email", "bill_suspended"):
        op.drop_column("company_settings", name)
    op.drop_table("service_period")
    op.drop_table("billing_run")
    op.drop_index("ix_service_next_billing", table_name="service")
    with op.batch_alter_table("service") as batch:
        batch.drop_constraint("ck_service_billing_day", type_="check")
        batch.drop_constraint("fk_service_tax_rate_id_tax_rate", type_="foreignkey")
        batch.drop_column("tax_rate_id")
    op.drop_column("service", "ends_on")
    op.drop_column("service", "billing_day")
    op.drop_column("service", "next_billing_on")
