"""Bulk actions on the customer list.

The list's ticked rows (or "all N matching this filter") are posted to FAB's
action_post; instead of acting at once, we show how many customers will change
and ask for the action's values. The confirmed form calls one command
(services/customers/bulk.start_bulk_action), which starts a Job; the job's page
(views/jobs.py) shows its progress until the result is in. One customer's action asked from
its page runs at once (BULK_SYNC_LIMIT) and goes back to that page with what was done.

ACTION_GROUPS is the one declaration of the customers' Actions menu: its groups in order, each
action's label and icon. The list's menu (widgets/model_list.html, through FAB's actions) and the
customer page's (views/profile.py) both render from it, with a divider between groups.
"""
import re
from collections.abc import Callable
from datetime import date
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.actions import ActionItem, action
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.services import jobs
from app.services.billing import statement_batch
from app.services.customers import bulk, status
from app.services.errors import AlreadyDone, Invalid, ServiceError
from app.services.forms import new_form_key
from app.services.scope import get_customer
from app.views.lists import NUL_MESSAGE, stock_filter_takes

# The CustomerView action (its permission: bulk.PERMISSIONS) -> the service's action.
SERVICE_ACTION = {v: k for k, v in bulk.PERMISSIONS.items()}
# What "Send statement"'s confirmation says of it.
STATEMENT_NOTE = ("Each customer's outstanding statement is e-mailed (its PDF attached) to the customer's own "
                  "address, else its primary contact's. Customers who owe nothing or have no address are left "
                  "out; dormant, blocked and archived customers, and those who opted out, are skipped.")
# What one customer's message says was done: "Acme Hotel Ltd (#112) disabled".
DONE = {"enable": "enabled", "disable": "disabled", "archive": "archived", "unarchive": "unarchived",
        "make_dormant": "made dormant", "block": "blocked", "edit": "updated", "delete": "deleted"}


@dataclass(frozen=True)
class MenuAction:
    """One entry of the customers' Actions menu: the CustomerView action (and its permission),
    its label and icon; a dangerous one (delete) is shown apart, in red."""

    name: str
    label: str
    icon: str
    dangerous: bool = False


# The customers' Actions menu, on the list and on a customer's page: (group, its actions), in the
# menu's order, a divider between groups; delete last, apart.
ACTION_GROUPS: tuple[tuple[str, tuple[MenuAction, ...]], ...] = (
    ("status", (MenuAction("enable", "Enable", "fa-play"), MenuAction("disable", "Disable", "fa-pause"),
                MenuAction("make_dormant", "Make dormant", "fa-moon-o"), MenuAction("block", "Block", "fa-lock"),
                MenuAction("archive", "Archive", "fa-archive"), MenuAction("unarchive", "Unarchive", "fa-undo"))),
    ("messages", (MenuAction("send_email", "Send an e-mail", "fa-envelope"),
                  MenuAction("send_text", "Send a text", "fa-commenting"),
                  MenuAction("send_statement", "Send statement", "fa-file-text-o"))),
    ("edit", (MenuAction("bulk_edit", "Edit status, tags, billing…", "fa-pencil"),)),
    ("delete", (MenuAction("bulk_delete", "Delete", "fa-trash", dangerous=True),)),
)
MENU_ACTIONS = {entry.name: entry for _group, entries in ACTION_GROUPS for entry in entries}
GROUP_OF = {entry.name: group for group, entries in ACTION_GROUPS for entry in entries}


def menu_action(name: str):
    """FAB's @action for the menu's entry `name`, with its label and icon from ACTION_GROUPS."""
    entry = MENU_ACTIONS[name]
    return action(name, entry.label, icon=entry.icon)


def menu_groups(may: Callable[[str], bool], customer_status: str | None = None
                ) -> list[tuple[str, list[MenuAction]]]:
    """Every group of the menu in order, with the actions `may(name)` allows (and, for one
    customer, only those that apply to its status); a group may be left empty."""
    return [(group, [entry for entry in entries if may(entry.name) and (
        customer_status is None or action_applies(entry.name, customer_status))])
            for group, entries in ACTION_GROUPS]


class GroupedAction(ActionItem):
    """FAB's action, with its group and whether it is dangerous: the list's menu draws a
    divider where the group changes (widgets/model_list.html)."""

    def __init__(self, item: ActionItem):
        super().__init__(item.name, item.text, item.confirmation, item.icon, item.multiple, item.single, item.func)
        self.group = GROUP_OF.get(item.name)
        self.dangerous = MENU_ACTIONS[item.name].dangerous if item.name in MENU_ACTIONS else False


def grouped_actions(actions: dict) -> dict:
    """A view's actions in the menu's order (ACTION_GROUPS, then any others), each with its group."""
    order = {name: i for i, name in enumerate(MENU_ACTIONS)}
    ranked = sorted(actions.values(), key=lambda item: order.get(item.name, len(order)))
    return {item.name: GroupedAction(item) for item in ranked}


def action_applies(name: str, customer_status: str) -> bool:
    """Whether the CustomerView action `name` would change a customer in `customer_status` (what a
    row's or a customer page's menu offers); actions that change no status always apply."""
    return status.applies(SERVICE_ACTION.get(name, name), customer_status)


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

    @property
    def one_from_profile(self) -> bool:
        """One customer's action asked from its page: done at once, and back to the page."""
        return self.from_profile and len(self.ids) == 1 and not self.all_matching

    def back(self, view) -> str:
        """Where Cancel leads: the customer's page it came from, else the list as it was filtered."""
        if self.one_from_profile:
            return url_for(f"{view.endpoint}.show", pk=self.ids[0])
        return url_for(f"{view.endpoint}.list") + ("?" + self.query.lstrip("?") if self.query else "")

    @classmethod
    def from_form(cls, form) -> "Selection":
        return cls(ids=form.getlist("rowid")[:10_000], all_matching=form.get("all_matching") == "1",
                   query=(form.get("query") or "")[:4000], from_profile=form.get("next") == "profile")


def matching_ids(view, query: str):
    """A select of the ids the customer list shows for `query` (its filters, the user's scope).

    `query` is the list's query string as the browser had it: a filter the list ignored (with
    a message, views/lists.py) is ignored here too, so the action is for the customers shown."""
    args = MultiDict(parse_qsl(query.lstrip("?"), keep_blank_values=True))
    if any("\x00" in text for pair in args.items(multi=True) for text in pair):
        raise ServiceError(NUL_MESSAGE)
    filters = view.datamodel.get_filters(view.search_columns)
    available = filters.get_search_filters()
    for arg in args:
        m = re.fullmatch(r"_flt_(\d)_(.+)", arg)
        if not (m and m.group(2) in available and int(m.group(1)) < len(available[m.group(2)])):
            continue
        column, index = m.group(2), int(m.group(1))
        values = [v for v in args.getlist(arg)
                  if stock_filter_takes(available[column][index], view.datamodel, column, v)]
        if values:
            filters.add_filter_index(column, index, values)
    return view.datamodel.filtered_ids(view.active_filters(filters)).statement


class BulkActionsMixin:
    """For CustomerView: the actions FAB lists, answered with a confirmation first."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.actions = grouped_actions(self.actions)  # FAB collects them by method name

    # FAB registers these (menu, permissions); action_post below is what answers them.
    @menu_action("enable")
    def action_enable(self, items):
        abort(404)

    @menu_action("disable")
    def action_disable(self, items):
        abort(404)

    @menu_action("archive")
    def action_archive(self, items):
        abort(404)

    @menu_action("unarchive")
    def action_unarchive(self, items):
        abort(404)

    @menu_action("make_dormant")
    def action_make_dormant(self, items):
        abort(404)

    @menu_action("block")
    def action_block(self, items):
        abort(404)

    @menu_action("bulk_edit")
    def action_bulk_edit(self, items):
        abort(404)

    @menu_action("send_statement")
    def action_send_statement(self, items):
        abort(404)

    @menu_action("bulk_delete")
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
        return jobs.count_chosen(db.session, g.user, **selection.chosen(self))

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
        if name == statement_batch.ACTION:
            return self._confirm_statements(selection, count, asked, errors, values, status)
        service_action = SERVICE_ACTION[name]
        # One customer's confirmation names it ("Disable Acme Hotel Ltd (#112)?").
        named = repr(get_customer(db.session, g.user, selection.ids[0])) if len(selection.ids) == 1 and not \
            selection.all_matching else None
        # The edit's billing fields name how many of their services a change would touch.
        service_counts = bulk.service_counts(db.session, g.user, **selection.chosen(self)) \
            if service_action == "edit" else None
        return self.render_template(
            "bulk/confirm.html", view=self, name=name, service_action=service_action, label=bulk.LABELS[service_action],
            count=count, not_found=max(asked - count, 0), selection=selection, named=named,
            note=bulk.note(service_action), errors=errors or {}, values=values or MultiDict(),
            form_key=new_form_key(), back=selection.back(self), service_counts=service_counts,
            **bulk.options(db.session, g.user),
        ), status

    def _confirm_statements(self, selection: Selection, count: int, asked: int, errors, values, status):
        """"Send statement"'s confirmation: the statement's date and whether invoices go with it."""
        values = values or MultiDict({"as_at": date.today().isoformat(), "attach": "setting"})
        return self.render_template(
            "bulk/confirm.html", view=self, name=statement_batch.ACTION, service_action=statement_batch.ACTION,
            label=statement_batch.LABEL, count=count, not_found=max(asked - count, 0), selection=selection,
            named=None, note=STATEMENT_NOTE, errors=errors or {}, values=values, form_key=new_form_key(),
            back=selection.back(self), attach_choices=statement_batch.ATTACH,
        ), status

    def _start_statements(self, selection: Selection):
        """The confirmed "Send statement": its job (services/billing/statement_batch.start), then its page."""
        form = request.form
        try:
            job = statement_batch.start(db.session, g.user, {"as_at": form.get("as_at"), "attach": form.get("attach")},
                                        form.get("form_key"), **selection.chosen(self))
        except AlreadyDone as e:
            flash(e.message, "info")
            return redirect(url_for("JobView.mine"))
        except Invalid as e:
            db.session.rollback()
            return self._confirm(statement_batch.ACTION, selection, errors=e.errors, values=form, status=422)
        return redirect(url_for("JobView.show", pk=job.id))

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
        if name == statement_batch.ACTION:
            return self._start_statements(selection)
        form = request.form
        params = {"confirm": form.get("confirm"), "tag_mode": form.get("tag_mode"),
                  "tag_ids": form.getlist("tag_ids"), "status": form.get("status"),
                  "reseller_id": form.get("reseller_id"), "currency": form.get("currency"),
                  "creditor_days": form.get("creditor_days"), "billing_cycle": form.get("billing_cycle"),
                  "next_billing_on": form.get("next_billing_on")}
        # The customer's name, read before the action (which may delete it); NotFound: 404.
        named = repr(get_customer(db.session, g.user, selection.ids[0])) if selection.one_from_profile else None
        try:
            job = bulk.start_bulk_action(db.session, g.user, SERVICE_ACTION[name], params, form.get("form_key"),
                                         **selection.chosen(self))
        except AlreadyDone as e:
            flash(e.message, "info")
            return redirect(selection.back(self) if named else url_for("JobView.mine"))
        except Invalid as e:
            db.session.rollback()
            return self._confirm(name, selection, errors=e.errors, values=form, status=422)
        if named and job.status == "done":
            return self._done_for_one(job, named, selection)
        return redirect(url_for("JobView.show", pk=job.id))

    def _done_for_one(self, job, named: str, selection: Selection):
        """Back to the customer's page (the list, once it is deleted) with what was done to it."""
        result = job.result or {}
        if not result.get("changed"):
            reasons = ", ".join(result.get("skipped") or {})
            flash(f"{named} was not changed" + (f": {reasons}" if reasons else ""), "warning")
            return redirect(selection.back(self))
        flash(f"{named} {DONE[job.action]}", "success")
        if job.action == "delete":
            return redirect(url_for(f"{self.endpoint}.list"))
        return redirect(selection.back(self))
