"""E-mail and text messages: compose and send from the customer list, the messages and
notification logs of a customer, resending a failed message, and the public unsubscribe page."""
import hmac
import io

from flask import abort, current_app, flash, g, jsonify, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from app.extensions import csrf, db
from app.models import Message
from app.services.errors import AlreadyDone, Invalid
from app.services.forms import new_form_key
from app.services.messages import inbound, outbox, placeholders, sms, unsubscribe
from app.views import formatters
from app.views.base import ServiceModelView
from app.views.bulk import Selection, menu_action
from app.views.datamodel import ListInterface, customer_name
from app.views.filters import ChildScopeFilter

MESSAGE_ACTIONS = {"send_email": "email", "send_text": "sms"}
REPLY_ACTIONS = {channel: name for name, channel in MESSAGE_ACTIONS.items()}


class MessagesMixin:
    """For CustomerView: "Send an e-mail" and "Send a text" on ticked customers (iBill)."""

    message_actions = MESSAGE_ACTIONS

    @menu_action("send_email")
    def action_send_email(self, items):
        abort(404)

    @menu_action("send_text")
    def action_send_text(self, items):
        abort(404)

    def compose_for(self, name: str, selection: Selection, values=None, errors=None, preview=None, status=200):
        count, asked = self._count(selection)
        if count == 0:
            return self._none_found(selection)
        channel = MESSAGE_ACTIONS[name]
        values = values or MultiDict({"purpose": "service", "recipients": "primary"})
        return self.render_template(
            "messages/compose.html", view=self, name=name, channel=channel, count=count,
            not_found=max(asked - count, 0), selection=selection, values=values, errors=errors or {},
            preview=preview, form_key=new_form_key(), placeholders=placeholders.PLACEHOLDERS,
            purposes=outbox.PURPOSES, recipients=outbox.RECIPIENTS, max_segments=sms.MAX_SEGMENTS,
            counted=sms.count(values.get("body", "")) if channel == "sms" else None,
            back=selection.back(self),
        ), status

    @expose("/compose/<string:name>", methods=["POST"])
    def compose(self, name):
        """Preview the message for the first recipient, or send it to every selected customer."""
        if not current_user.is_authenticated:
            return self._refuse()
        if name not in MESSAGE_ACTIONS:
            abort(404)
        if not self._may(name):
            return self._refuse()
        selection = Selection.from_form(request.form)
        form = request.form
        channel = MESSAGE_ACTIONS[name]
        try:
            if form.get("send") != "1":
                draft = outbox.preview_for(db.session, g.user, channel, form, current_app.config,
                                           **selection.chosen(self))
                return self.compose_for(name, selection, values=form, preview=draft)
            job = outbox.send(db.session, g.user, channel, form, form.get("form_key"), current_app.config,
                              **selection.chosen(self))
        except AlreadyDone as e:
            flash(e.message, "info")
            return redirect(url_for("JobView.mine"))
        except Invalid as e:
            db.session.rollback()
            return self.compose_for(name, selection, values=form, errors=e.errors, status=422)
        return redirect(url_for("JobView.show", pk=job.id))


class MessageView(ServiceModelView):
    """Every message, newest first, within the user's scope; failed ones can be resent (admins)."""

    datamodel = ListInterface(Message, eager=(customer_name(Message.customer),))
    route_base = "/messages"
    list_title = "Messages"
    show_title = "Message"
    base_filters = [["id", ChildScopeFilter, None]]
    base_order = ("id", "desc")
    base_permissions = ["can_list", "can_show", "can_resend"]
    list_columns = ["created_at", "customer", "direction", "recipient_name", "recipient", "channel", "purpose",
                    "summary", "status", "reason"]
    show_columns = ["created_at", "customer", "contact", "recipient_name", "recipient", "channel", "purpose", "kind",
                    "direction", "subject", "body", "status", "skip_reason", "error", "attempts", "transport",
                    "sent_at", "created_by", "attempt_log"]
    search_columns = ["status", "channel", "direction", "purpose", "kind", "recipient", "subject", "created_at"]
    label_columns = {"created_at": "When", "recipient_name": "Contact", "recipient": "Address", "channel": "Channel",
                     "status": "Status", "reason": "Reason / error", "skip_reason": "Skipped because",
                     "error": "Error", "attempt_log": "Attempts", "transport": "Sent through",
                     "created_by": "Sent by", "sent_at": "Sent at",
                     "summary": "Message"}
    formatters_columns = {"status": formatters.message_status, "created_at": formatters.moment,
                          "sent_at": formatters.moment, "body": formatters.multiline,
                          "attempt_log": formatters.attempts, "channel": formatters.channel,
                          "direction": formatters.direction, "purpose": formatters.purpose,
                          "kind": formatters.message_kind}
    page_size = 25
    show_template = "messages/show.html"

    def _show(self, pk):
        widgets = super()._show(pk)
        # The "Send again" button: a failed or uncertain message, for who may resend.
        message = outbox.brief(db.session, pk)
        g.may_resend = (outbox.may_resend(message) and self.appbuilder.sm.has_access("can_resend", "MessageView"))
        g.uncertain = message.status == "uncertain"
        g.attachments = outbox.attachment_list(db.session, message_id=int(pk))
        # "Reply": the compose screen for the customer who sent it, if the user may send.
        reply = REPLY_ACTIONS[message.channel]
        g.reply_url = (url_for("CustomerView.action", name=reply, pk=message.customer_id)
                       if message.direction == "in" and self.appbuilder.sm.has_access(reply, "CustomerView")
                       else None)
        return widgets

    @expose("/show/<int:pk>/files/<int:attachment_id>")
    @has_access
    @permission_name("show")
    def attachment(self, pk, attachment_id):
        """A file the e-mail carried (an invoice's PDF), as it was sent; a message out of the user's
        scope is 404, as on its page."""
        if self.datamodel.get(pk, self._base_filters) is None:
            abort(404)
        found = outbox.attachment(db.session, pk, attachment_id)
        if found is None:
            abort(404)
        response = send_file(io.BytesIO(found.content), mimetype=found.content_type, as_attachment=True,
                             download_name=found.filename, max_age=0)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @expose("/resend/<int:pk>", methods=["POST"])
    @has_access
    @permission_name("resend")
    def resend(self, pk):
        try:
            copy_id = outbox.resend(db.session, g.user, pk).id
        except Invalid as e:  # not failed: said on the message's page
            db.session.rollback()
            flash(e.messages, "warning")
            return redirect(url_for("MessageView.show", pk=pk))
        flash("Sent again as a new message.", "success")
        return redirect(url_for("MessageView.show", pk=copy_id))


class CustomerMessagesView(MessageView):
    """A customer's messages (sent and received), on its page."""

    route_base = "/customer-messages"
    list_title = "Messages"
    base_filters = [["id", ChildScopeFilter, None], ["kind", FilterEqual, "message"]]
    list_columns = ["created_at", "direction", "recipient_name", "recipient", "channel", "summary", "status",
                    "reason"]


class NotificationLogView(MessageView):
    """The automatic messages a customer was sent (getSoapy's notification logs)."""

    route_base = "/notification-logs"
    list_title = "Notification logs"
    base_filters = [["id", ChildScopeFilter, None], ["kind", FilterEqual, "notification"]]
    list_columns = ["created_at", "recipient", "channel", "summary", "status", "reason"]


class UnsubscribeView(BaseView):
    """The public page behind every marketing e-mail's unsubscribe link: one click, no login."""

    route_base = "/unsubscribe"
    default_view = "page"

    @expose("/<string:token>", methods=["GET", "POST"])
    def page(self, token):
        who = unsubscribe.recipient(db.session, current_app.config, token)
        if who is None:
            return self.render_template("messages/unsubscribe.html", state="invalid"), 404
        if request.method == "POST":
            unsubscribe.unsubscribe(db.session, who)
            return self.render_template("messages/unsubscribe.html", state="done",
                                        address=unsubscribe.display_address(who))
        return self.render_template("messages/unsubscribe.html", state="ask", token=token,
                                    address=unsubscribe.display_address(who))


class InboundMessageView(BaseView):
    """Where an SMS gateway or a mail hook posts a message a customer sent us (no login: the
    shared secret INBOUND_MESSAGE_TOKEN authorises it; without one set, this answers 404).

    POST /messages/inbound/sms or /email, as a form or JSON: from, body (and subject for
    e-mail); Twilio's From and Body are understood too. Answers 201 with the message id,
    202 when no customer has that address, 422 naming the bad fields, 403 for a wrong token.
    """

    route_base = "/messages/inbound"
    default_view = "receive"

    @expose("/<string:channel>", methods=["POST"])
    def receive(self, channel):
        expected = current_app.config.get("INBOUND_MESSAGE_TOKEN")
        if not expected or channel not in outbox.CHANNELS:
            abort(404)
        data = request.get_json(silent=True) if request.is_json else request.form
        data = data if isinstance(data, dict) else {}
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() or data.get("token") or ""
        if not hmac.compare_digest(str(given).encode(), expected.encode()):
            return jsonify(error="Wrong or missing token."), 403
        fields = {key: data.get(key) or data.get(key.capitalize()) for key in ("from", "body", "subject")}
        try:
            message = inbound.receive(db.session, channel, fields)
        except Invalid as e:
            db.session.rollback()
            return jsonify(errors=e.errors), 422
        if message is None:
            return jsonify(matched=False, error="No customer has this address."), 202
        return jsonify(matched=True, id=message.id, customer_id=message.customer_id), 201


# Mail clients POST the one-click unsubscribe (RFC 8058) without a CSRF token; the signed
# token in the URL is what authorises it, and it can only ever turn marketing e-mail off.
# A gateway posting a received message has no session either: its shared token authorises it.
csrf.exempt(f"{__name__}.page")
csrf.exempt(f"{__name__}.receive")
