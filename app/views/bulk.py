"""Bulk actions on the customer list, and the page that follows a job's progress.

The list's ticked rows (or "all N matching this filter") are posted to FAB's
action_post; instead of acting at once, we show how many customers will change
and ask for the action's values. The confirmed form starts a Job: small ones run
in the request, larger ones (over BULK_SYNC_LIMIT) in a worker, and the job page
shows a progress bar until the result is in.
"""
import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from flask import abort, current_app, flash, g, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.actions import action
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.jobs import enqueue, tasks
from app.models import Job, Message, Reseller, SubmittedForm, Tag
from app.models.customers import CREDITOR_DAYS, STATUSES
from app.services.customers import bulk
from app.services.db import commit
from app.services.errors import Forbidden, Invalid, NotFound
from app.services.scope import is_scoped, reseller_choice_scope

# Each action's permission is its name on CustomerView (FAB's convention for actions);
# the default roles grant them in app/security.py.
ACTION_NAMES = {"enable": "enable", "disable": "disable", "archive": "archive", "unarchive": "unarchive",
                "make_dormant": "make_dormant", "block": "block", "edit": "bulk_edit", "delete": "bulk_delete"}
SERVICE_ACTION = {v: k for k, v in ACTION_NAMES.items()}


def action_applies(name: str, status: str) -> bool:
    """Whether the CustomerView action `name` would change a customer in `status` (what a row's
    or a customer page's menu offers); actions that change no status always apply."""
    return bulk.applies(SERVICE_ACTION.get(name, name), status)


@dataclass
class Selection:
    """Which customers a bulk action is for: ticked ids, or all that match the list's filter."""

    ids: list[str] = field(default_factory=list)
    all_matching: bool = False
    query: str = ""
    one: bool = False  # one customer's action (a row's or its page's): none found is 404
    from_profile: bool = False  # ... asked from the customer's page

    def chosen(self, view) -> dict:
        """The service's arguments: ids=... (ticked) or matching=... (the list's filter)."""
        if self.all_matching:
            return {"ids": None, "matching": matching_ids(view, self.query)}
        return {"ids": self.ids, "matching": None}

    def back(self, view) -> str:
        """Where Cancel leads: the customer's page it came from, else the list as it was filtered."""
        if self.from_profile and len(self.ids) == 1 and not self.all_matching:
            return url_for(f"{view.endpoint}.show", pk=self.ids[0])
        return url_for(f"{view.endpoint}.list") + ("?" + self.query.lstrip("?") if self.query else "")

    @classmethod
    def from_form(cls, form) -> "Selection":
        return cls(ids=form.getlist("rowid")[:10_000], all_matching=form.get("all_matching") == "1",
                   query=(form.get("query") or "")[:4000], from_profile=form.get("next") == "profile")


def claim_form_key(form) -> bool:
    """Record the form's one-time key (in the transaction that acts on it); False when this
    form was submitted before (a double click), so that it acts once. A malformed key: 400."""
    try:
        key = str(uuid.UUID(form.get("form_key", "")))
    except ValueError:
        abort(400)
    try:
        db.session.add(SubmittedForm(key=key))
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def matching_ids(view, query: str):
    """A select of the ids the customer list shows for `query` (its filters, the user's scope)."""
    args = MultiDict(parse_qsl(query.lstrip("?"), keep_blank_values=True))
    filters = view.datamodel.get_filters(view.search_columns)
    available = filters.get_search_filters()
    for arg in args:
        m = re.fullmatch(r"_flt_(\d+)_(.+)", arg)
        if m and m.group(2) in available and int(m.group(1)) < len(available[m.group(2)]):
            filters.add_filter_index(m.group(2), int(m.group(1)), args.getlist(arg))
    return view.datamodel.filtered_ids(view.active_filters(filters)).statement


class BulkActionsMixin:
    """For CustomerView: the actions FAB lists, answered with a confirmation first."""

    # FAB registers these (menu, permissions); action_post below is what answers them.
    @action("enable", "Enable", icon="fa-play")
    def action_enable(self, items):
        abort(404)

    @action("disable", "Disable", icon="fa-pause")
    def action_disable(self, items):
        abort(404)

    @action("archive", "Archive", icon="fa-archive")
    def action_archive(self, items):
        abort(404)

    @action("unarchive", "Unarchive", icon="fa-undo")
    def action_unarchive(self, items):
        abort(404)

    @action("make_dormant", "Make dormant", icon="fa-moon-o")
    def action_make_dormant(self, items):
        abort(404)

    @action("block", "Block", icon="fa-lock")
    def action_block(self, items):
        abort(404)

    @action("bulk_edit", "Bulk edit", icon="fa-pencil")
    def action_bulk_edit(self, items):
        abort(404)

    @action("bulk_delete", "Delete", icon="fa-trash")
    def action_bulk_delete(self, items):
        abort(404)

    def _may(self, name: str) -> bool:
        return self.appbuilder.sm.has_access(name, self.class_permission_name)

    def _refuse(self):
        if not current_user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_login_with(request.full_path))
        flash("You may not do that.", "danger")
        return redirect(url_for(f"{self.endpoint}.list"))

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        name = request.form.get("action", "")
        if name not in self.actions:
            abort(404)
        if not self._may(name):
            return self._refuse()
        selection = Selection.from_form(request.form)
        if name in getattr(self, "message_actions", {}):
            return self.compose_for(name, selection)
        return self._confirm(name, selection)

    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk):
        """One customer's action from its row or its page: the same confirmation, for one.
        (FAB's show page POSTs here; either way nothing changes before the confirmation.)"""
        if name not in self.actions:
            abort(404)
        if not self._may(name):
            return self._refuse()
        selection = Selection(ids=[pk], one=True, from_profile=request.args.get("next") == "profile")
        if name in getattr(self, "message_actions", {}):
            return self.compose_for(name, selection)
        return self._confirm(name, selection)

    def _count(self, selection: Selection) -> tuple[int, int]:
        return bulk.count_chosen(db.session, g.user, **selection.chosen(self))

    def _none_found(self, selection: Selection):
        """The answer when none of the chosen customers can be found: 404 for one customer
        (another reseller's, or none: as everywhere), else back to the list with a warning."""
        if selection.one:
            abort(404)
        flash("None of these customers can be found.", "warning")
        return redirect(url_for(f"{self.endpoint}.list"))

    def _confirm(self, name: str, selection: Selection, errors: dict | None = None, values=None, status=200):
        count, asked = self._count(selection)
        if count == 0 and not errors:
            return self._none_found(selection)
        service_action = SERVICE_ACTION[name]
        return self.render_template(
            "bulk/confirm.html", view=self, name=name, service_action=service_action, label=bulk.LABELS[service_action],
            count=count, not_found=max(asked - count, 0), selection=selection,
            note=bulk.transitions_note(service_action), errors=errors or {}, values=values or MultiDict(),
            form_key=str(uuid.uuid4()), statuses=STATUSES, creditor_days=CREDITOR_DAYS,
            tags=db.session.scalars(select(Tag).order_by(Tag.name)).all(),
            resellers=[] if is_scoped(g.user) else db.session.scalars(
                select(Reseller).where(reseller_choice_scope(g.user)).order_by(Reseller.name)).all(),
            back=selection.back(self),
        ), status

    @expose("/bulk/<string:name>", methods=["POST"])
    def bulk(self, name):
        """The confirmed action: fix its customers in a job, then run it (or queue it)."""
        if not current_user.is_authenticated:
            return self._refuse()
        if name not in self.actions:
            abort(404)
        if not self._may(name):
            return self._refuse()
        selection = Selection.from_form(request.form)
        form = request.form
        params = {"confirm": form.get("confirm"), "tag_mode": form.get("tag_mode"),
                  "tag_ids": form.getlist("tag_ids"), "status": form.get("status"),
                  "reseller_id": form.get("reseller_id"), "currency": form.get("currency"),
                  "creditor_days": form.get("creditor_days")}
        if not claim_form_key(form):
            flash("This action was already started.", "info")
            return redirect(url_for("JobView.mine"))
        try:
            job = bulk.prepare(db.session, g.user, SERVICE_ACTION[name], params, **selection.chosen(self))
            commit(db.session)
        except Forbidden:
            db.session.rollback()
            return self._refuse()
        except Invalid as e:
            db.session.rollback()
            return self._confirm(name, selection, errors=e.errors, values=form, status=422)
        job_id, total = job.id, job.total
        if total <= current_app.config["BULK_SYNC_LIMIT"]:
            tasks.run_bulk_action(job_id)
        else:
            enqueue(tasks.run_bulk_action, job_id)
        return redirect(url_for("JobView.show", pk=job_id))


def job_for_user(pk: int) -> Job:
    try:
        return bulk.get_job(db.session, g.user, pk)
    except NotFound:
        abort(404)


def message_counts(job: Job) -> dict[str, int]:
    """A messages job's messages by status (queued, sending, sent, failed, skipped)."""
    return dict(db.session.execute(select(Message.status, func.count()).where(Message.batch_id == job.id)
                                   .group_by(Message.status)).all())


def progress_of(job: Job) -> dict:
    """Where a job is: for a bulk action, customers done; for messages, messages delivered."""
    out = {"status": job.status, "done": job.done, "total": job.total, "percent": job.percent,
           "result": job.result, "error": job.error}
    if job.action in MESSAGE_JOBS and job.status == "done":
        counts = message_counts(job)
        total = sum(counts.values())
        pending = counts.get("queued", 0) + counts.get("sending", 0)
        out.update(messages=counts, total=total, done=total - pending,
                   percent=100 if not total else int(100 * (total - pending) / total),
                   status="done" if not pending else "running")
    return out


MESSAGE_JOBS = {"email": "Send an e-mail", "sms": "Send a text"}


class JobView(BaseView):
    """A bulk action or a batch of messages: its progress, then its result."""

    route_base = "/jobs"
    default_view = "mine"
    base_permissions = ["can_show"]

    @expose("/<int:pk>")
    @has_access
    def show(self, pk):
        job = job_for_user(pk)
        return self.render_template("jobs/show.html", job=job, progress=progress_of(job),
                                    label={**bulk.LABELS, **MESSAGE_JOBS}.get(job.action, job.action))

    @expose("/<int:pk>/progress")
    @has_access
    @permission_name("show")
    def progress(self, pk):
        return jsonify(progress_of(job_for_user(pk)))

    @expose("/mine")
    @has_access
    @permission_name("show")
    def mine(self):
        """The user's latest job (where a double-submitted form lands)."""
        stmt = select(Job.id).order_by(Job.id.desc()).limit(1)
        if is_scoped(g.user):
            stmt = stmt.where(Job.user_id == g.user.id)
        pk = db.session.scalar(stmt)
        if pk is None:
            abort(404)
        return redirect(url_for("JobView.show", pk=pk))
