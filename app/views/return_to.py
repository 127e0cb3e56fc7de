"""Where a form goes once it is saved: `?next=` names the page it was opened from (the
customer's tab), a page of this app and never another site."""
from urllib.parse import urlsplit

from flask import current_app, request
from werkzeug.exceptions import HTTPException

MAX_LENGTH = 2000


def local_target(value: str | None) -> str | None:
    """`value` when it is the path (and query) of a page this app serves to a GET, else None.

    Refused: an absolute URL, `//host`, any backslash (browsers read `/\\host` as `//host`),
    whitespace or control characters (a browser drops a tab and reads what is left), and a path
    no route of the app answers."""
    if not value or len(value) > MAX_LENGTH or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    path, root = parts.path, request.script_root
    if root:
        if not path.startswith(root + "/"):
            return None
        path = path[len(root):]
    try:
        current_app.url_map.bind_to_environ(request.environ).match(path, method="GET")
    except HTTPException:  # no such page, or only under another spelling (a redirect)
        return None
    return value


def return_target() -> str | None:
    """The request's `next`, when it is safe to go to (local_target)."""
    return local_target(request.args.get("next"))
