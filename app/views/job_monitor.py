"""The job monitor (/job-monitor/, Admin: no default role is given its permissions, app/security.py):
RQ's queue by state when REDIS_URL is set (app/jobs/monitor.py), the app's own jobs (bulk actions,
batches of messages) and the periodic jobs (app/jobs/schedule.py) with their last and next run, each
failure with its error. Retry: a failed RQ job goes back on its queue. Run now (Retry now when it
failed): any periodic job whose run is not under way is made due now and queued; a run "running" for
longer than periodic.RUNNING_FOR_AT_MOST is shown lost (its process died) and may be run again. Cancel:
an RQ job still waiting. Without Redis it says RQ is not in use and shows the rest.
"""
from datetime import timedelta

from flask import flash, redirect, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name

from app.extensions import db
from app.jobs import monitor, schedule
from app.models.resellers import utcnow
from app.services import jobs, periodic
from app.views import formatters
from app.views.jobs import STATUS_WORDS, reaped

# Due for longer than this, a periodic job has nobody scheduling it (a worker's cron or `flask jobs run-due`
# take it within a minute of its time).
OVERDUE_AFTER = timedelta(minutes=5)
PERIODIC_WORDS = {"running": ("Running", "primary"), "done": ("Done", "success"), "failed": ("Failed", "danger"),
                  "lost": ("Lost", "warning"), None: ("Never run", "default")}


class JobMonitorView(BaseView):
    route_base = "/job-monitor"
    default_view = "show"
    base_permissions = ["can_show", "can_retry", "can_cancel"]

    @expose("/")
    @has_access
    def show(self):
        now = utcnow()
        rows = periodic.rows(db.session, schedule.jobs(), now)
        return self.render_template(
            "job_monitor/page.html", title="Job monitor", rq=monitor.read(), periodic=rows,
            overdue={job.name for job, row in rows if periodic.utc(row.next_due_at) < now - OVERDUE_AFTER},
            states={job.name: periodic.state(row, now) for job, row in rows},
            app_jobs=[reaped(job) for job in jobs.latest(db.session, monitor.SHOWN)],
            app_failed=jobs.latest(db.session, monitor.SHOWN, "failed"), app_counts=jobs.by_status(db.session),
            labels=jobs.label, status_words=STATUS_WORDS, periodic_words=PERIODIC_WORDS, f=formatters)

    @expose("/rq/<job_id>/retry", methods=["POST"])
    @has_access
    @permission_name("retry")
    def retry_rq(self, job_id):
        job = monitor.retry(job_id)
        flash(f"Job {job.id} is back in the queue.", "info")
        return redirect(url_for("JobMonitorView.show"))

    @expose("/rq/<job_id>/cancel", methods=["POST"])
    @has_access
    @permission_name("cancel")
    def cancel_rq(self, job_id):
        job = monitor.cancel(job_id)
        flash(f"Job {job.id} is cancelled: it will not run.", "info")
        return redirect(url_for("JobMonitorView.show"))

    @expose("/periodic/<name>/retry", methods=["POST"])
    @has_access
    @permission_name("retry")
    def retry_periodic(self, name):
        monitor.retry_periodic(db.session, name)
        flash(f"{periodic.find(schedule.jobs(), name).label}: due now, and queued.", "info")
        return redirect(url_for("JobMonitorView.show"))
