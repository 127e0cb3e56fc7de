"""Payment reminders' screens (issue 16): the steps (Admin > Payment reminders) and the "Overdue, not
reminded" list (Money), with a customer's Send reminder and move-the-next-reminder forms (the latter
on its Finances tab: views/profile.py).

Thin: services/billing/reminder_steps.py (the steps, the customer's summary) and reminders.py
(not_reminded, send_by_hand, move_next_reminder) check permission and scope again (another reseller's
customer: 404). Admin changes the steps (ReminderStepsView can_edit); Finance reads them (can_show).
Who sees money reads the list within their scope (OverdueNotRemindedView can_show); who posts money
sends and moves (can_post_money); a dormant, blocked or archived customer's Send says it goes despite
the status, asks first and posts `despite_status` (send_by_hand refuses without it). Every form carries
a one-time key: a double submit acts once.
"""
from datetime import date

from flask import current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name

from app.extensions import db
from app.models import Customer
from app.services import fields, money, permissions
from app.services.billing import POST_MONEY, reminder_steps, reminders, suspension
from app.services.errors import AlreadyDone, Invalid
from app.services.forms import claim_form_key, new_form_key
from app.services.messages.placeholders import REMINDER_PLACEHOLDERS
from app.views.return_to import return_target

PAGE = 50  # rows of the overdue list
ALREADY_SAVED = "This form was already sent: it was saved once."
STEP_LABELS = {"position": "position", "days": "days", "subject": "subject", "body": "e-mail", "sms_body": "text",
               "attach_statement": "statement attached", "active": "active"}


def _claimed() -> bool:
    """Claim the form's key in this request's transaction; False (and said) when it was sent before."""
    if claim_form_key(db.session, request.form.get("form_key")):
        return True
    flash(ALREADY_SAVED, "info")
    return False


class ReminderStepsView(BaseView):
    route_base = "/reminder-steps"
    default_view = "show"
    base_permissions = ["can_show", "can_edit"]

    @expose("/")
    @has_access
    def show(self):
        """Every step by position (inactive ones greyed), with Add, Edit and Delete for Admin."""
        return self.render_template(
            "reminders/steps.html", steps=reminder_steps.all_steps(db.session, g.user),
            may_change=self.appbuilder.sm.has_access("can_edit", self.class_permission_name),
            may_company="can_edit" in _company_grants(), form_key=new_form_key(),
            minimum=_minimum(), title="Payment reminders")

    @expose("/add", methods=["GET", "POST"])
    @has_access
    @permission_name("edit")
    def add(self):
        return self._form(None)

    @expose("/<int:step_id>/edit", methods=["GET", "POST"])
    @has_access
    @permission_name("edit")
    def edit(self, step_id):
        return self._form(step_id)

    def _form(self, step_id):
        """Add (step_id None) or edit a step: errors next to their fields; saved, back to the list."""
        step = reminder_steps.get_step(db.session, g.user, step_id) if step_id is not None else None
        values = ({k: getattr(step, k) for k in reminder_steps.FIELDS} if step else
                  {"position": reminder_steps.next_position(db.session), "days": "", "subject": "", "body": "",
                   "sms_body": "", "attach_statement": False, "active": True})
        values = {k: "" if v is None else v for k, v in values.items()}
        errors, key, status = {}, new_form_key(), 200
        if request.method == "POST":
            values = {k: request.form.get(k, "") for k in reminder_steps.FIELDS}
            values["attach_statement"] = fields.boolean(values["attach_statement"])
            values["active"] = fields.boolean(values["active"])
            key = request.form.get("form_key", "")
            if not _claimed():
                return redirect(url_for(".show"))
            try:
                saved, changed = reminder_steps.save_step(db.session, g.user, step_id, values)
            except Invalid as e:
                db.session.rollback()
                errors, status = e.errors, 422
            else:
                if step is None:
                    flash(f"Step {saved.position} added.", "success")
                else:
                    flash(f"Step {saved.position} saved: " + (", ".join(STEP_LABELS[k] for k in changed) + " changed."
                                                              if changed else "nothing changed."), "success")
                return redirect(url_for(".show"))
        return self.render_template(
            "reminders/step_form.html", step=step, values=values, errors=errors, form_key=key,
            placeholders=REMINDER_PLACEHOLDERS, limits=(reminder_steps.MIN_DAYS, reminder_steps.MAX_DAYS),
            title=f"Edit reminder step {step.position}" if step else "Add reminder step"), status

    @expose("/<int:step_id>/delete", methods=["POST"])
    @has_access
    @permission_name("edit")
    def delete(self, step_id):
        if _claimed():
            step = reminder_steps.delete_step(db.session, g.user, step_id)
            flash(f"Step {step.position} deleted: reminders already sent keep their record; an open episode "
                  "goes on from the next step.", "success")
        return redirect(url_for(".show"))


def _company_grants() -> set[str]:
    sm = current_app.appbuilder.sm
    return {p for p in ("can_edit",) if sm.has_access(p, "CompanySettingsView")}


def _minimum() -> str:
    from app.models import CompanySettings
    from app.services.settings import settings
    row = db.session.get(CompanySettings, 1)
    return money.format((row and row.reminder_minimum) or 0, settings.base_currency)


class OverdueNotRemindedView(BaseView):
    route_base = "/overdue-not-reminded"
    default_view = "show"
    base_permissions = ["can_show", "can_post_money"]

    @expose("/")
    @has_access
    def show(self):
        """The customers in scope with a net overdue above the minimum that the run does not remind, with
        their reason; a page of PAGE after ?after= (a customer id); Send reminder for who posts money."""
        after = fields.page_cursor(request.args.get("after"))
        rows = reminders.not_reminded(db.session, g.user, date.today(), after, PAGE + 1)
        more = url_for(".show", after=rows[PAGE - 1].customer_id) if len(rows) > PAGE else None
        return self.render_template(
            "reminders/overdue.html", rows=rows[:PAGE], more=more, first=url_for(".show") if after else None,
            may_send=permissions.may(db.session, g.user, POST_MONEY)
            and self.appbuilder.sm.has_access("can_post_money", self.class_permission_name),
            keys={r.customer_id: new_form_key() for r in rows}, money=money.format, minimum=_minimum(),
            status_reasons=reminders.STATUS_REASONS,
            title="Overdue, not reminded")

    @expose("/send/<int:customer_id>", methods=["POST"])
    @has_access
    @permission_name("post_money")
    def send(self, customer_id):
        """Send the customer its reminder now (reminders.send_by_hand; `despite_status`: the confirmation that
        it goes to a dormant, blocked or archived customer); back with what happened."""
        back = return_target() or url_for(".show")
        try:
            reminder = reminders.send_by_hand(db.session, g.user, customer_id, current_app.config,
                                              request.form.get("form_key", ""),
                                              despite_status=fields.boolean(request.form.get("despite_status")))
        except AlreadyDone as done:
            flash(done.message, "info")
        except Invalid as e:
            db.session.rollback()
            name = _name(customer_id)
            flash(f"{name}: {e.messages}", "danger")
        else:
            despite = _status_overridden(customer_id)
            flash(f"Reminder step {reminder.step} sent to {_name(customer_id)} "
                  f"({money.format(reminder.net_overdue, reminder.currency)} overdue)"
                  + (f", despite its status ({despite})." if despite else "."), "success")
        return redirect(back)

    @expose("/next/<int:customer_id>", methods=["POST"])
    @has_access
    @permission_name("post_money")
    def move_next(self, customer_id):
        """Move the customer's next reminder (reminders.move_next_reminder); back to its Finances tab."""
        back = return_target() or url_for("CustomerView.show", pk=customer_id, tab="finances")
        if _claimed():
            try:
                state = reminders.move_next_reminder(db.session, g.user, customer_id,
                                                     request.form.get("next_reminder_on", ""))
            except Invalid as e:
                db.session.rollback()
                flash(e.messages, "danger")
            else:
                flash(f"The next payment reminder to {_name(customer_id)} is on "
                      f"{state.next_reminder_on.strftime('%d %b %Y')}: none goes before it.", "success")
        return redirect(back)


    @expose("/postpone/<int:customer_id>", methods=["POST"])
    @has_access
    @permission_name("post_money")
    def postpone(self, customer_id):
        """Postpone the customer's suspension for late payment (suspension.postpone; an empty date ends the
        postponement); back to its Finances tab."""
        back = return_target() or url_for("CustomerView.show", pk=customer_id, tab="finances")
        if _claimed():
            try:
                state = suspension.postpone(db.session, g.user, customer_id,
                                            request.form.get("suspension_postponed_until", ""))
            except Invalid as e:
                db.session.rollback()
                flash(e.messages, "danger")
            else:
                until = state.suspension_postponed_until
                flash(f"{_name(customer_id)} is not suspended for late payment before "
                      f"{until.strftime('%d %b %Y')}." if until else
                      f"{_name(customer_id)}'s suspension for late payment is no longer postponed.", "success")
        return redirect(back)


def _status_overridden(customer_id: int) -> str | None:
    """The status a reminder just sent by hand went despite (dormant, blocked, archived), or None."""
    customer = db.session.get(Customer, customer_id)
    return customer.status if customer is not None and customer.status in reminders.STATUS_REASONS else None


def _name(customer_id: int) -> str:
    customer = db.session.get(Customer, customer_id)
    return customer.name if customer else f"Customer {customer_id}"
