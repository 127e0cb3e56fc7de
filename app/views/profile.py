"""The customer's page (its profile): a side panel, tabs, an actions menu and notes.

Replaces FAB's show page of CustomerView, at the same URL and with the same permission
(`can_show`); each tab is a link (`?tab=notes`) and only the open tab's records are read.
The tabs come from a registry (TABS, `register_tab`): a new tab is an entry and its template
customers/profile/<key>.html. Writing notes needs `can_edit` on customers, deleting one `can_delete`.
"""
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access, permission_name


from app.extensions import db
from app.services import geo, permissions
from app.services.billing import POST_MONEY, credit_notes, finances, quotes, reminder_steps, suspension
from app.models.customers import CUSTOMER_TYPES, TITLES
from app.models.money import OPEN_STATUSES
from app.services.customers import contacts, merge, notes, profile, update
from app.services.errors import AlreadyDone, Forbidden, Invalid, NotFound
from app.services.fields import page_cursor
from app.services.forms import new_form_key
from app.services.scope import get_customer
from app.views import formatters, history
from app.views import invoices as invoice_views
from app.views import quotes as quote_views
from app.views import credit_notes as credit_note_views
from app.views.bulk import MENU_ACTIONS, menu_groups


@dataclass(frozen=True)
class Tab:
    """One tab of the customer's page: its label, and what it reads for customer `pk` (called
    with the view, the customer's id and the request's arguments; None: the summary is enough)."""

    label: str
    read: Callable[..., dict] | None = None


TABS: dict[str, Tab] = {}


def register_tab(key: str, label: str, read: Callable[..., dict] | None = None) -> None:
    """Add a tab (after the others); its template is customers/profile/<key>.html."""
    TABS[key] = Tab(label, read)


def _notes(view, pk, args) -> dict:
    page, next_before = notes.notes_page(db.session, g.user, pk, page_cursor(args.get("before")))
    return {"notes": page, "next_before": next_before, "form_key": new_form_key()}


def _messages(view, pk, args) -> dict:
    logs = args.get("logs") == "1"
    return {"messages": profile.messages(db.session, g.user, pk, notifications=logs), "logs": logs}


def _changes(view, pk, args) -> dict:
    rows, next_before = profile.changes(db.session, g.user, pk, page_cursor(args.get("before")))
    return {"changes": history.present(db.session, rows), "next_before": next_before,
            "may_see_raw": view.appbuilder.sm.has_access("can_show", "AuditView")}


# The Finances tab's sub-tabs, in order (?sub=...): invoices first, as getSoapy's tab opens.
FINANCE_TABS = {"invoices": "Invoices", "quotes": "Quotes", "credit_notes": "Credit notes", "payments": "Payments",
                "credits": "Credits",
                "ledger": "Show payments & adjustments"}
# A payment's kind on the Payments and Credits sub-tabs (the Credits list says "Overpayment" for a
# payment that became credit: views/credits.py).
PAYMENT_KINDS = {"payment": "Payment", "external": "External payment", "credit": "Manual credit",
                 "credit_note": "Credit note", "write_off": "Write-off"}
# A ledger entry's kind in words (positive amounts: the customer owes more).
LEDGER_KINDS = {"invoice": "Invoice", "invoice_void": "Invoice voided", "payment": "Payment",
                "external": "External payment", "credit": "Manual credit", "refund": "Refund",
                "credit_void": "Credit voided", "adjustment": "Balance adjustment", "credit_note": "Credit note",
                "write_off": "Write-off"}


def _ledger_sources(entries) -> dict:
    """What each ledger entry comes from, in words, with a link where there is a page:
    {entry id: (text, the page it is on: "invoice", "credit" or None, that record's id)}."""
    found = {}
    for entry_id, source in finances.ledger_sources(db.session, entries).items():
        if source.kind == "invoice":
            found[entry_id] = (f"Invoice {source.number or source.record_id}", "invoice", source.record_id)
        elif source.kind == "payment":
            found[entry_id] = (f"{PAYMENT_KINDS.get(source.payment_kind, 'Payment')} #{source.record_id}", "credit",
                               source.record_id)
        elif source.kind == "credit_note":
            found[entry_id] = (f"Credit note {source.number or source.record_id}", "credit_note", source.record_id)
        elif source.kind == "release":
            found[entry_id] = (f"Payment or credit #{source.record_id or '?'}", "credit", source.record_id)
        else:
            found[entry_id] = ("Balance adjustment", None, None)
    return found


def _finances(view, pk, args) -> dict:
    """The Finances tab: one sub-tab's page (newest first, `before` the next page's cursor), each
    invoice with its PDF and, for who may post money, Record payment or Edit; and their buttons."""
    sub = args.get("sub") if args.get("sub") in FINANCE_TABS else "invoices"
    before = page_cursor(args.get("before"))
    here = url_for("CustomerView.show", pk=pk, tab="finances", sub=sub)
    content = {"sub": sub, "sub_tabs": FINANCE_TABS, "here": here, "payment_kinds": PAYMENT_KINDS,
               "ledger_kinds": LEDGER_KINDS, "refunds": {}, "sources": {}}
    if sub == "invoices":
        rows, next_before = finances.invoices(db.session, g.user, pk, before)
    elif sub == "quotes":
        rows, next_before = quotes.page(db.session, g.user, pk, before)
        content["quote_status"] = quote_views.status_label
    elif sub == "credit_notes":
        rows, next_before = credit_notes.page(db.session, g.user, pk, before)
        content["credit_note_status"] = credit_note_views.status_label
    elif sub == "ledger":
        rows, next_before = finances.ledger_page(db.session, g.user, pk, before)
        content["sources"] = _ledger_sources(rows)
    else:
        rows, next_before = finances.payments(db.session, g.user, pk, before, credits_only=sub == "credits")
        content["refunds"] = finances.refunds(db.session, [p.id for p in rows])
    may_post = permissions.may(db.session, g.user, POST_MONEY)
    buttons = []
    if may_post:
        for endpoint, label, icon, element in (
                ("InvoiceView.new", "New invoice", "fa-file-text-o", "new-invoice"),
                ("QuoteView.new", "New quote", "fa-file-o", "new-quote"),
                ("InvoiceView.charge", "Charge customer", "fa-bolt", "charge-customer"),
                ("CreditView.external", "Add external payment", "fa-money", "add-external-payment"),
                ("CreditView.add_credit", "Add credit", "fa-plus-circle", "add-credit"),
                ("CreditView.adjust", "Edit balance", "fa-balance-scale", "edit-balance"),
                ("CardView.list", "Cards", "fa-credit-card", "cards")):
            buttons.append((label, icon, element, url_for(endpoint, customer_id=pk, next=here)))
    content.update(rows=rows, next_before=next_before, may_post=may_post, buttons=buttons,
                   status_label=invoice_views.status_label, open_statuses=OPEN_STATUSES,
                   reminders=reminder_steps.of_customer(db.session, g.user, pk),
                   late=suspension.standing(db.session, g.user, pk),
                   reminder_key=new_form_key() if may_post else None, today=date.today().isoformat())
    return content


def _services(view, pk, args) -> dict:
    return {"services": profile.services(db.session, g.user, pk)}


register_tab("details", "Details", lambda view, pk, args: view.custom_fields_tab(pk))
register_tab("contacts", "Contacts", lambda view, pk, args: {"contacts": profile.contacts(db.session, g.user, pk)})
register_tab("addresses", "Addresses",
             lambda view, pk, args: {"addresses": profile.addresses(db.session, g.user, pk)})
register_tab("notes", "Notes", _notes)
register_tab("files", "Files", lambda view, pk, args: view.files_tab(pk))
register_tab("finances", "Finances", _finances)
register_tab("messages", "Messages", _messages)
register_tab("works", "Jobs / works")
register_tab("services", "Services", _services)
register_tab("changes", "Changes", _changes)


@dataclass(frozen=True)
class MenuLink:
    """An entry of the customer page's Actions menu: what it is (its class profile-action-<name>),
    its words, icon and link."""

    name: str
    label: str
    icon: str
    url: str
    dangerous: bool = False


class ProfileMixin:
    """For CustomerView: its show page is the profile."""

    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        tab = request.args.get("tab", "details")
        if tab not in TABS:
            abort(404)
        try:
            summary = profile.summary(db.session, g.user, pk, current_app.config)
            read = TABS[tab].read
            content = read(self, summary.customer.id, request.args) if read else {}
        except NotFound:
            return self._to_survivor(pk, "show", tab=tab)
        config = current_app.config
        may = self.appbuilder.sm.has_access
        actions_menu = self._actions_menu(summary.customer)
        return self.render_template(
            "customers/profile.html", summary=summary, c=summary.customer, tab=tab, pk=summary.customer.id,
            tabs={key: t.label for key, t in TABS.items()},
            content=content, custom_fields=content.get("custom_fields", []), formatters=formatters, distance=geo.format_distance(
                summary.distance_km, config.get("DISTANCE_UNIT", "km")) if summary.distance_km is not None else None,
            map_tiles=config.get("MAP_TILE_URL") or "", map_attribution=config.get("MAP_ATTRIBUTION") or "",
            business_known=summary.business_known,
            actions_menu=actions_menu,
            # The customer's actions, flat (name, label, icon): the messages tab's compose buttons.
            menu=[(e.name, e.label, e.icon) for group in actions_menu for e in group if e.name in MENU_ACTIONS],
            may_edit=may("can_edit", self.class_permission_name),
            may_delete=may("can_delete", self.class_permission_name),
            may_private=notes.may_see_private(db.session, g.user), title=summary.customer.name,
            pinned=summary.pinned)

    def _actions_menu(self, customer) -> list[list[MenuLink]]:
        """The page's Actions menu, as groups: the list's groups and words (bulk.ACTION_GROUPS), each
        action with its permission and only where it applies to the customer's status; "Change
        customer type" with the edits, merging in a group of its own before delete."""
        may = self.appbuilder.sm.has_access
        view = self.class_permission_name
        groups = {group: [MenuLink(a.name, a.label, a.icon, url_for(f"{self.endpoint}.action", name=a.name,
                                                                     pk=customer.id, next="profile"), a.dangerous)
                          for a in entries]
                  for group, entries in menu_groups(lambda name: may(name, view), customer.status)}
        if may("can_edit", view):
            groups["edit"].append(MenuLink("type", "Change customer type", "fa-exchange",
                                           url_for(f"{self.endpoint}.change_type", pk=customer.id)))
        merging = [MenuLink("merge", "Merge a duplicate into this customer", "fa-compress",
                            url_for(f"{self.endpoint}.merge", pk=customer.id))] if may("can_merge", view) else []
        ordered = [entries for group, entries in groups.items() if group != "delete"] + [merging, groups["delete"]]
        return [entries for entries in ordered if entries]

    def _to_survivor(self, pk, endpoint: str, **args):
        """A merged-away customer's id leads to the customer it was merged into (a GET of its page
        or of one of its forms); any other unknown id is 404."""
        target = merge.alias_target(db.session, g.user, pk) if request.method == "GET" else None
        if target is None:
            abort(404)
        flash(f"Customer #{pk} was merged into this one.", "info")
        return redirect(url_for(f"{self.endpoint}.{endpoint}", pk=target, **args))

    # ---- merge ----------------------------------------------------------------------------
    @expose("/show/<pk>/merge", methods=["GET", "POST"])
    @has_access
    @permission_name("merge")
    def merge(self, pk):
        """Pick the duplicate (GET), see what will move (GET with ?duplicate=), merge (POST)."""
        duplicate = request.values.get("duplicate", "").strip().lstrip("#")
        plan, errors = None, {}
        try:
            survivor = get_customer(db.session, g.user, pk)
        except NotFound:
            return self._to_survivor(pk, "merge")
        try:
            if request.method == "POST":
                merged = merge.merge(db.session, g.user, pk, duplicate)
                flash(f"Customer #{duplicate} was merged into this one.", "success")
                return redirect(url_for(f"{self.endpoint}.show", pk=merged.id, tab="details"))
            if duplicate:
                plan = merge.preview(db.session, g.user, pk, duplicate)
        except Invalid as e:
            db.session.rollback()
            errors = e.errors
        return self.render_template("customers/merge.html", survivor=survivor, duplicate=duplicate, plan=plan,
                                    errors=errors, title=f"Merge into {survivor.name}"), 422 if errors else 200

    # ---- customer type ----------------------------------------------------------------------
    @expose("/show/<pk>/type", methods=["GET", "POST"])
    @has_access
    @permission_name("edit")
    def change_type(self, pk):
        """Private <-> company, with the names the new type needs."""
        errors = {}
        try:
            customer = get_customer(db.session, g.user, pk)
        except NotFound:
            return self._to_survivor(pk, "change_type")
        try:
            values = {key: getattr(customer, key) or "" for key in update.TYPE_FIELDS}
            if request.method == "POST":
                values = {key: request.form[key] for key in update.TYPE_FIELDS if key in request.form}
                update.change_type(db.session, g.user, customer.id, values)
                flash("Customer type changed.", "success")
                return redirect(url_for(f"{self.endpoint}.show", pk=customer.id))
        except Invalid as e:
            db.session.rollback()
            # The other fields are checked too; their errors are shown above the form.
            errors = {k: v for k, v in e.errors.items() if k in update.TYPE_FIELDS}
            errors["_"] = [m if k == "_" else f"{k.replace('_', ' ').capitalize()}: {m}"
                           for k, messages in e.errors.items() if k not in update.TYPE_FIELDS for m in messages]
        return self.render_template("customers/change_type.html", customer=customer, values=values, errors=errors,
                                    types=CUSTOMER_TYPES, titles=TITLES,
                                    title=f"Change the type of {customer.name}"), 422 if errors else 200

    # ---- contacts (Commusoft: type "delete" to delete; tick the box to make primary) ---------
    @expose("/contacts/<int:contact_id>/delete", methods=["POST"])
    @has_access
    @permission_name("delete")
    def delete_contact(self, contact_id):
        return self._contact_step(contact_id, contacts.delete_confirmed, "Contact deleted.")

    @expose("/contacts/<int:contact_id>/primary", methods=["POST"])
    @has_access
    @permission_name("edit")
    def primary_contact(self, contact_id):
        return self._contact_step(contact_id, contacts.make_primary, "Primary contact changed.")

    def _contact_step(self, contact_id, step, done: str):
        try:
            customer_id = contacts.get_contact(db.session, g.user, contact_id).customer_id
            step(db.session, g.user, contact_id, request.form.get("confirm"))
            flash(done, "success")
        except Invalid as e:
            db.session.rollback()
            flash(e.messages, "danger")
        return redirect(url_for(f"{self.endpoint}.show", pk=customer_id, tab="contacts"))

    # ---- notes ----------------------------------------------------------------------------
    @expose("/show/<pk>/notes", methods=["POST"])
    @has_access
    @permission_name("edit")
    def add_note(self, pk):
        try:
            notes.add_note(db.session, g.user, pk, request.form, form_key=request.form.get("form_key"))
            flash("Note added.", "success")
        except AlreadyDone as e:  # a double click: the first one wrote the note
            flash(e.message, "info")
        except Forbidden as e:  # a private note from who may not write one: said above the notes
            db.session.rollback()
            flash(str(e), "danger")
        except Invalid as e:
            db.session.rollback()
            flash(e.messages, "danger")
        return redirect(url_for(f"{self.endpoint}.show", pk=pk, tab="notes"))

    @expose("/notes/<int:note_id>/pin", methods=["POST"])
    @has_access
    @permission_name("edit")
    def pin_note(self, note_id):
        note = notes.set_important(db.session, g.user, note_id, request.form.get("important") == "1")
        return redirect(url_for(f"{self.endpoint}.show", pk=note.customer_id, tab="notes"))

    @expose("/notes/<int:note_id>/delete", methods=["POST"])
    @has_access
    @permission_name("delete")
    def delete_note(self, note_id):
        customer_id = notes.delete_note(db.session, g.user, note_id)
        flash("Note deleted.", "success")
        return redirect(url_for(f"{self.endpoint}.show", pk=customer_id, tab="notes"))

