"""Money > Recurring billing (issue 17): what a billing run would bill today, "Bill due services now", and
the runs' reports.

Thin: services/billing/recurring.py decides. The page (can_show: every role that sees money) shows the
heading's counts (recurring.summary), the company's billing settings in words (company.billing; Company
settings linked for who may edit them), a page of the preview (recurring.plan within the user's scope: a
reseller's user sees its own customers; ?after=<customer id> pages on, "Newest" goes back to the start)
and the latest runs (recurring.latest_runs; their figures are company-wide, so a user confined to a
reseller sees when they ran and how they ended, not what they billed). Who posts money (can_post_money,
and POST_MONEY again in the service) confirms on /confirm (the counts and, up to CONFIRM_TOTALS_LIMIT
customers, the totals per currency) and posts /start with the confirmation's one-time key: recurring.start
starts one run per key and none while one is going (RunGoing), then the job's progress page follows.

Importing recurring registers the "Bill due services" job kind (its label, Start again) for the job pages
and the job monitor.
"""
from datetime import date
from decimal import Decimal

from flask import current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from sqlalchemy import select

from app.extensions import db
from app.models import Job
from app.services import company, fields, jobs, money, permissions
from app.services.billing import POST_MONEY, recurring
from app.services.errors import AlreadyDone
from app.services.forms import new_form_key
from app.services.scope import is_scoped
from app.views.jobs import reaped

PAGE = 25  # customers of the preview a page
RUNS = 20  # runs in the history
CONFIRM_TOTALS_LIMIT = 2000  # customers due up to which the confirmation prices the whole run
RUN_STATUS = {"running": ("Running", "primary"), "finished": ("Finished", "success"), "failed": ("Failed", "danger"),
              "stopped": ("Stopped", "danger")}


def settings_in_words(chosen: company.Billing) -> list[str]:
    """The company's billing settings in force, each as a sentence."""
    return [
        "Invoices are left as drafts for review." if chosen.drafts else "Invoices are issued at once.",
        ("Issued invoices are e-mailed with their PDF." if chosen.email else "Invoices are not e-mailed.")
        if not chosen.drafts else "Drafts are not e-mailed.",
        "Periods started or ended part way are billed pro rata." if chosen.pro_rata
        else "Whole periods are billed (no pro rata).",
        "Suspended services are billed." if chosen.bill_suspended else "Suspended services are not billed.",
    ]


def _totals(totals: dict) -> list[str]:
    return [money.format(Decimal(str(amount)), currency) for currency, amount in sorted((totals or {}).items())]


def _may_run(view) -> bool:
    return (view.appbuilder.sm.has_access("can_post_money", view.class_permission_name)
            and permissions.may(db.session, g.user, POST_MONEY))


class RecurringBillingView(BaseView):
    route_base = "/recurring-billing"
    default_view = "show"
    base_permissions = ["can_show", "can_post_money"]

    @expose("/")
    @has_access
    def show(self):
        """The heading's counts, the settings, a page of the preview and the latest runs."""
        today = date.today()
        after = fields.page_cursor(request.args.get("after"))
        found = recurring.plan(db.session, today, g.user, after_id=after, limit=PAGE)
        bills, last = found.bills, found.last_customer_id
        # Next only when a customer is due past this page (a dormant one's skip counts as one).
        more = url_for(".show", after=last) if last is not None and recurring.plan(
            db.session, today, g.user, after_id=last, limit=1).last_customer_id is not None else None
        return self.render_template(
            "recurring_billing/page.html", today=today, summary=recurring.summary(db.session, today, g.user),
            settings=settings_in_words(company.billing(db.session)), bills=bills,
            totals=_totals(found.totals), more=more, newest=url_for(".show") if after else None,
            runs=self._runs(), may_run=_may_run(self), money=money.format, title="Recurring billing",
            may_company=self.appbuilder.sm.has_access("can_edit", "CompanySettingsView"))

    def _runs(self) -> dict:
        """The latest runs for the page: each with its status as it stands (a run whose job's process died
        shows stopped), its totals formatted and its job's page where the user may open it."""
        runs = recurring.latest_runs(db.session, RUNS)
        job_ids = [r.job_id for r in runs if r.job_id is not None]
        statuses = dict(db.session.execute(select(Job.id, Job.status).where(Job.id.in_(job_ids))).tuples().all()) \
            if job_ids else {}
        visible = set(db.session.scalars(select(Job.id).where(Job.id.in_(job_ids), jobs.listed(db.session, g.user)))) \
            if job_ids and self.appbuilder.sm.has_access("can_show", "JobView") else set()
        rows = []
        for r in runs:
            status = recurring.status_of(r, statuses.get(r.job_id))
            rows.append({"run": r, "status": RUN_STATUS.get(status, (status, "default")), "totals": _totals(r.totals),
                         "job_url": url_for("JobView.show", pk=r.job_id) if r.job_id in visible else None})
        return {"rows": rows, "figures": not is_scoped(g.user)}

    @expose("/confirm")
    @has_access
    @permission_name("post_money")
    def confirm(self):
        """"Bill due services now", asked first: how many customers and services, and the totals."""
        today = date.today()
        summary = recurring.summary(db.session, today, g.user)
        totals = None
        if summary.customers <= CONFIRM_TOTALS_LIMIT:
            totals = _totals(recurring.plan(db.session, today, g.user, limit=None).totals)
        return self.render_template(
            "recurring_billing/confirm.html", today=today, summary=summary, totals=totals,
            settings=settings_in_words(company.billing(db.session)), form_key=new_form_key(),
            going=recurring.going(db.session, reaped), title="Bill due services now")

    @expose("/start", methods=["POST"])
    @has_access
    @permission_name("post_money")
    def start(self):
        """Start the run (recurring.start, one per form key, none while one is going), then its job's page."""
        try:
            started = recurring.start(db.session, g.user, form_key=request.form.get("form_key", ""),
                                      reap=reaped)
        except (AlreadyDone, recurring.RunGoing) as e:
            db.session.rollback()
            flash(e.message, "warning")
            return redirect(url_for(".show"))
        flash(f"Billing run {started.id} started: it bills the services due on "
              f"{started.run_on.strftime('%d %b %Y')}.", "success")
        return redirect(url_for("JobView.show", pk=started.job_id))

