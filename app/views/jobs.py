"""The page that follows a job (a bulk action, a batch of messages): its progress, then its result.

A job whose process died is shown failed (services/jobs.reap, with app/jobs/runner.alive)
and offers "Start again", which goes on with the customers it had not done.
"""
from flask import flash, g, jsonify, redirect, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name

from app.extensions import db
from app.jobs import get_queue, runner
from app.services import jobs


def _job(pk):
    """The user's job (NotFound: 404), marked failed first if its runner is gone."""
    return jobs.reap(db.session, jobs.get_job(db.session, g.user, pk), runner.alive,
                     queued_waits=get_queue() is not None)


class JobView(BaseView):
    """A bulk action or a batch of messages: its progress, then its result."""

    route_base = "/jobs"
    default_view = "mine"
    base_permissions = ["can_show"]

    @expose("/<int:pk>")
    @has_access
    def show(self, pk):
        job = _job(pk)
        return self.render_template("jobs/show.html", job=job, progress=jobs.progress(db.session, job),
                                    label=jobs.label(job))

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
