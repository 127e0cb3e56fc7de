"""Jobs (bulk actions, batches of messages): the list of them, and the page that follows one,
its progress, then its result.

A job whose process died is shown failed (services/jobs.reap, with app/jobs/runner.alive)
and offers "Start again", which goes on with the customers it had not done.
"""
from datetime import datetime

from flask import flash, g, jsonify, redirect, url_for
from flask_appbuilder import expose
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.decorators import has_access, permission_name
from markupsafe import Markup, escape
from sqlalchemy import select

from app.extensions import db
from app.jobs import get_queue, runner
from app.models import Job
from app.services import jobs
from app.views import formatters
from app.views.base import ServiceModelView
from app.views.datamodel import ListInterface

# What a job's status means to its user, in the words of its page (jobs/show.html).
STATUS_WORDS = {"queued": ("Waiting", "info"), "running": ("Working", "primary"), "done": ("Done", "success"),
                "failed": ("Stopped", "danger")}


def reaped(job):
    """The job, marked failed first if its runner is gone (so no page shows a dead job running)."""
    return jobs.reap(db.session, job, runner.alive, queued_waits=get_queue() is not None)


def _job(pk):
    """The user's job (NotFound: 404), marked failed first if its runner is gone."""
    return reaped(jobs.get_job(db.session, g.user, pk))


class OwnJobsFilter(BaseFilter):
    """Base filter: the jobs the user started, or every job for who may see them all."""

    name = "Yours"

    def apply(self, query, value):
        return query.filter(jobs.listed(db.session, g.user))


def _kind(row) -> Markup:
    """The kind of job, as its page names it, linking to that page."""
    kind = jobs.KINDS.get(row["action"])
    label = kind.label if kind else row["action"]
    return Markup(f'<a href="{escape(url_for("JobView.show", pk=row["id"]))}">{escape(label)}</a>')


def _status(value) -> Markup:
    words, colour = STATUS_WORDS.get(value, (value or "", "default"))
    return Markup(f'<span class="label label-{colour}">{escape(words)}</span>')


def _done_of_total(row) -> str:
    return f"{row['done']:,} of {row['total']:,}"


class JobView(ServiceModelView):
    """The jobs list (the user's own; all of them with can_see_all_jobs), and each job's page:
    its progress, then its result."""

    datamodel = ListInterface(Job)
    route_base = "/jobs"
    default_view = "list"
    list_title = "Jobs"
    base_permissions = ["can_list", "can_show", jobs.ALL_JOBS[0]]
    base_filters = [["id", OwnJobsFilter, None]]
    base_order = ("id", "desc")
    # Only the list of FAB's routes: a job is made by the action that starts it, and its page is show.
    exclude_route_methods = {"add", "edit", "delete", "download", "action", "action_post"}
    list_columns = ["action", "username", "created_at", "status", "done"]
    row_columns = ["id", "total"]
    row_formatters = {"action": _kind, "done": _done_of_total}
    formatters_columns = {"created_at": formatters.moment, "status": _status}
    label_columns = {"action": "Job", "username": "Who", "created_at": "When", "status": "Status",
                     "done": "Customers done"}
    order_columns = ["created_at", "status", "username"]
    search_columns = ["status", "username", "created_at"]
    add_columns = edit_columns = show_columns = ["action", "status"]

    def _get_list_widget(self, *args, **kwargs):
        """A job on the page whose process died shows as stopped, as on its own page and the home page."""
        widgets = super()._get_list_widget(*args, **kwargs)
        widget = widgets["list"]
        rows = widget.template_args["value_columns"] = list(widget.template_args["value_columns"])
        open_ids = [row["id"] for row in rows if row["status"] in ("queued", "running")]
        if open_ids:
            status = {job.id: reaped(job).status for job in db.session.scalars(select(Job).where(Job.id.in_(open_ids)))}
            for row in rows:
                row["status"] = status.get(row["id"], row["status"])
        return widgets

    @expose("/<int:pk>")
    @has_access
    def show(self, pk):
        job = _job(pk)
        progress = jobs.progress(db.session, job)
        next_try = datetime.fromisoformat(progress["next_try"]) if progress.get("next_try") else None
        return self.render_template("jobs/show.html", job=job, progress=progress, next_try=next_try,
                                    label=jobs.label(job), formatters=formatters)

    @expose("/<int:pk>/progress")
    @has_access
    @permission_name("show")
    def progress(self, pk):
        return jsonify(jobs.progress(db.session, _job(pk)))

    @expose("/<int:pk>/again", methods=["POST"])
    @has_access
    @permission_name("show")
    def start_again(self, pk):
        """Start a stopped job again: who may see the job and do its action (services/jobs.start_again)."""
        job = jobs.start_again(db.session, g.user, pk)
        flash(f"{jobs.label(job)} started again: it goes on with the customers not done.", "info")
        return redirect(url_for("JobView.show", pk=pk))

    @expose("/mine")
    @has_access
    @permission_name("show")
    def mine(self):
        """The user's latest job (where a double-submitted form lands)."""
        return redirect(url_for("JobView.show", pk=jobs.latest_job_id(db.session, g.user)))
