"""The one place that turns the services' typed errors into answers.

A view calls its service and lets NotFound, Forbidden and Invalid propagate; the session
is rolled back here (nothing half-written) and the error answered: 404 and 403 as those
statuses (the app's error pages, or JSON for the API and webhooks), a plain ServiceError as
400 (a request no field can be blamed for: text with a NUL byte), an Invalid that no form
caught as 422 (JSON with the field errors for the API, else the messages on FAB's error page).
Forms that show errors next to their fields catch Invalid themselves (views/base.py).
"""
from flask import current_app, jsonify, request
from werkzeug.exceptions import default_exceptions

from app.extensions import db
from app.services.errors import Forbidden, Invalid, NotFound, ServiceError


def _is_api() -> bool:
    """A caller that reads JSON: the REST API, the webhook for received messages, a JSON body."""
    return request.path.startswith(("/api/", "/messages/inbound/")) or request.is_json


def answer(error: ServiceError):
    db.session.rollback()
    if _is_api():
        body = {"message": error.errors if isinstance(error, Invalid) else (error.message or _DEFAULTS[error.status])}
        return jsonify(body), error.status
    # An HTTP error raised inside an error handler is not handled again: answer it here,
    # through the app's own handler for that status when it has one.
    description = None if isinstance(error, (NotFound, Forbidden)) else (getattr(error, "messages", None) or error.message)
    return current_app.handle_http_exception(default_exceptions[error.status](description=description))


_DEFAULTS = {400: "Bad request", 403: "Forbidden", 404: "Not found", 422: "Invalid"}


def register(app) -> None:
    app.register_error_handler(ServiceError, answer)
