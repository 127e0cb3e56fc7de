"""The one place that turns errors into answers: the services' typed errors and HTTP errors.

A view calls its service and lets NotFound, Forbidden and Invalid propagate; the session
is rolled back here (nothing half-written) and the error answered: 404 and 403 as those
statuses, a plain ServiceError as 400 (a request no field can be blamed for: text with a NUL
byte), AlreadyDone as 409, an Invalid that no form caught as 422. The API, the webhook for
received messages and JSON bodies get JSON (with the field errors of an Invalid); a browser
gets the app's error page (templates/errors/), in the layout with the menu, a plain message
and a way back: to the page it came from when that is on this site, else Home.

Every other HTML error takes the same page: werkzeug's 404 for an unknown address and 405,
FAB's 403 for a logged-in user without the permission (its @has_access aborts 403; only an
anonymous visitor is sent to the login page), a form's missing CSRF token (400), and the 500
of an unhandled exception, which Flask has logged and whose text the page never shows.
Forms that show errors next to their fields catch Invalid themselves (views/base.py).
"""
from urllib.parse import urlsplit

from flask import current_app, g, jsonify, render_template, request
from flask_login import current_user
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError, default_exceptions

from app.extensions import db
from app.services.errors import Forbidden, Invalid, NotFound, ServiceError

_DEFAULTS = {400: "Bad request", 403: "Forbidden", 404: "Not found", 409: "Already done", 422: "Invalid"}


def _is_api() -> bool:
    """A caller that reads JSON: the REST API, the webhook for received messages, a JSON body."""
    return request.path.startswith(("/api/", "/messages/inbound/")) or request.is_json


def answer(error: ServiceError):
    db.session.rollback()
    if _is_api():
        body = {"message": error.errors if isinstance(error, Invalid) else (error.message or _DEFAULTS[error.status])}
        return jsonify(body), error.status
    # An HTTP error raised inside an error handler is not handled again: answer it here,
    # through the app's own handler for that status. A NotFound or Forbidden shows only its
    # status's page (a missing record and another reseller's must read alike); the others'
    # messages (a NUL byte, a form sent twice, field errors no form showed) are the user's.
    description = None
    if not isinstance(error, (NotFound, Forbidden)):
        description = getattr(error, "messages", None) or error.message or None
    return current_app.handle_http_exception(default_exceptions[error.status](description=description))


def http_error(error: HTTPException):
    """An HTTP error as the app's page; the API's stay werkzeug's own, as they were."""
    if _is_api():
        return error
    db.session.rollback()
    # werkzeug's stock sentences are for developers; a description someone wrote for this
    # request (a ServiceError's message, a form's missing CSRF token) is the user's to read.
    stock = type(error).description
    detail = error.description if error.description and error.description != stock else None
    html, status = _page(error.code, detail)
    # What the status needs besides the body (a 405's Allow header).
    return html, status, [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]


def server_error(error: InternalServerError):
    """The 500 of an unhandled exception (Flask has logged it with its traceback) or of an
    abort(500): the app's page, without the exception's text."""
    if _is_api():
        return error
    db.session.rollback()
    return _page(500, None)


def _page(status: int, detail):
    """The error page in the layout; if the layout cannot be drawn (it reads the menu's
    permissions from the database, which may be what failed), a bare page with the same status."""
    appbuilder = current_app.appbuilder
    name = default_exceptions[status].name if status in default_exceptions else "Error"
    try:
        if "user" not in g:  # FAB sets it before each request; an error may come before that
            g.user = current_user
        return render_template(
            [f"errors/{status}.html", "errors/error.html"],
            status=status, name=name, detail=detail, back=_came_from(), home=appbuilder.get_url_for_index,
            base_template=appbuilder.base_template, appbuilder=appbuilder), status
    except Exception:
        current_app.logger.exception("The %s page could not be drawn in the layout", status)
        db.session.rollback()
        heading = _BARE_HEADINGS.get(status, name)
        said = f"<p>{escape(detail)}</p>" if detail else ""
        return (f"<!DOCTYPE html><html><head><title>{heading}</title></head><body><h1>{heading}</h1>{said}"
                '<p><a href="/">Home</a></p></body></html>'), status


_BARE_HEADINGS = {403: "You may not open this page", 404: "Page not found", 500: "Something went wrong"}


def _came_from() -> str | None:
    """The page the user came from, when it is on this site and is not this very page."""
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.scheme not in ("http", "https") or parts.netloc != request.host:
        return None
    if parts.path == request.path and parts.query == request.query_string.decode("latin-1"):
        return None
    return referrer


def register(app) -> None:
    app.register_error_handler(ServiceError, answer)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(InternalServerError, server_error)
