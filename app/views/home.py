"""The home page: the dashboard of the signed-in user's scope (services/dashboard.py).

Logged out, it is the plain welcome with the log-in button. Each panel is shown only to a user
whose roles grant the screen it summarises and links to (the customer list, the messages, the
job page), so a user without those permissions sees no figures from them.
"""
from flask import current_app, g
from flask_appbuilder import IndexView, expose

from app.extensions import db
from app.services import dashboard, jobs
from app.views import formatters, history
from app.views.jobs import reaped

# The panels and the permission each needs: the screen it links to.
PANELS = {
    "customers": ("can_list", "CustomerView"),
    "jobs": ("can_show", "JobView"),
    "messages": ("can_list", "MessageView"),
    "audit": ("can_list", "AuditView"),
}

class HomeView(IndexView):
    index_template = "index.html"

    @expose("/")
    def index(self):
        self.update_redirect()
        user = g.user
        if user is None or not user.is_authenticated:
            return self.render_template(self.index_template, appbuilder=self.appbuilder, board=None)
        may = {panel: self.appbuilder.sm.has_access(*grant) for panel, grant in PANELS.items()}
        board = dashboard.for_user(db.session, user, exact_limit=current_app.config["LIST_EXACT_COUNT_LIMIT"],
                                   customers=may["customers"], with_jobs=may["jobs"],
                                   with_messages=may["messages"])
        if board.jobs:
            board.jobs = [reaped(job) for job in board.jobs]  # one whose process died shows as failed
        return self.render_template(self.index_template, appbuilder=self.appbuilder, board=board, may=may,
                                    days=dashboard.MESSAGE_DAYS,
                                    job_label=jobs.label, moment=formatters.moment, what=history.what,
                                    status_word=lambda status: dashboard.STATUS_NAMES.get(status, status),
                                    message_status=formatters.message_status)
