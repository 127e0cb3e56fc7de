"""A CSV download, the one way every list and page answers it (services/csv_export.py writes it).

`list_rows(view)` is a list's own Select of ids as the request asks for it: the user's scope (its
base filters), the filters (checked before: views/lists.py answers 400 for one it cannot use) and
the sort. `dates(...)` reads a download's date range; any other argument, or a date that is not
YYYY-MM-DD, is refused (400): a download shows no message, so it never ignores what it was asked.
"""
from datetime import date

from flask import Response, request, stream_with_context
from flask_appbuilder.urltools import get_filter_args, get_order_args

from app.extensions import db
from app.services import csv_export, fields
from app.services.errors import ServiceError


def csv_download(stmt, header: list[str], name: str, day: date | None = None) -> Response:
    """`stmt`'s rows as a streamed CSV attachment named `name`-<day, else today>.csv."""
    filename = f"{name}-{(day or date.today()).isoformat()}.csv"
    return Response(
        stream_with_context(csv_export.stream_csv(db.session, stmt, header)),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "X-Content-Type-Options": "nosniff"})


def list_rows(view):
    """The ids of `view`'s list as this request filters and sorts them, within the user's scope."""
    get_filter_args(view._filters)
    orders = get_order_args().get(view.__class__.__name__)
    order_column, order_direction = orders if orders else view.base_order
    ids = view.datamodel.filtered_ids(view.active_filters(view._filters))
    return view.datamodel.ordered(ids, order_column, order_direction).statement


# No money is dated earlier; and reckoning ages back from year 1 runs out of calendar (OverflowError).
EARLIEST = date(1900, 1, 1)


def dates(*names: str) -> dict[str, date | None]:
    """The request's dates among `names` (each YYYY-MM-DD, or absent: None). Raises ServiceError
    (400) for another argument or a value that is not a date."""
    unknown = sorted(set(request.args) - set(names))
    if unknown:
        raise ServiceError(f"This download cannot be filtered by “{unknown[0][:40]}”: use {', '.join(names)}.")
    found = {}
    for name in names:
        value = request.args.get(name, "").strip()
        found[name] = fields.iso_date(value) if value else None
        if value and found[name] is None:
            raise ServiceError(f"“{value[:40]}” is not a date (YYYY-MM-DD) for {name}.")
        if found[name] is not None and found[name] < EARLIEST:
            raise ServiceError(f"{name} must be {EARLIEST.isoformat()} or later.")
    return found
