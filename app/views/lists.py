"""What every FAB list takes from the request: checked before FAB reads it, and kept per request.

FAB reads a list's page (`page_<View>`), page size (`psize_<View>`), sort (`_oc_<View>`,
`_od_<View>`) and filters (`_flt_<index>_<column>`) from the query string with int() and
list indexing, unchecked: `abc` or a filter index past a column's list raised (500), a page
past what a database integer holds overflowed, a negative page size read every row. Here,
before any view runs, each such argument is checked against the view it names; one that
cannot be used is taken out of the request, with a message, and the list shows as without
it (a CSV download, which shows no message, answers 400 with it). A page shows at most MAX_PAGE_SIZE rows. This holds for every ModelView the app
registers, whatever its datamodel, FAB's security screens included.

The REST lists take the same arguments as rison (`?q=(page:..,page_size:..,...)`):
`rest_list_problem` says what is wrong with them, and the API answers 400 with it.

FAB also keeps a view's active filters on the view instance (`self._filters`), which every
thread of a threaded server shares: one user's request could be answered with another's
filters. `RequestFilters` gives each request its own.
"""
import copy
import math
from decimal import Decimal
import re

from flask import abort, current_app, flash, g, has_request_context, request
from flask_appbuilder.baseviews import BaseCRUDView
from flask_appbuilder.models.sqla.filters import FilterIn, FilterNotIn
from sqlalchemy import BigInteger
from werkzeug.datastructures import ImmutableMultiDict

from app.services.fields import BIGINT_MAX, BIGINT_MIN, INT_MAX, INT_MIN, decimal_number, whole_number

MAX_PAGE_SIZE = 100
NUL_MESSAGE = "Text may not contain the NUL character (\\x00)."
# The argument names as FAB's urltools finds them (searched for, not anchored).
_FILTER, _PAGE_SIZE, _PAGE = re.compile(r"_flt_(\d)_(.*)"), re.compile("psize_(.*)"), re.compile("page_(.*)")
_ORDER = re.compile("_(?:oc|od)_(.*)")
# The endpoints where FAB takes filters only from the view's search columns; elsewhere
# (add, edit: a related list's parent) from every column it can filter.
SEARCH_ENDPOINTS = {"list", "export"}
# A download shows no message: an argument it cannot use is refused (400), not ignored.
REFUSED_AT = (".export",)


class RequestFilters:
    """A view whose active filters belong to the request, not to the shared view instance.

    FAB sets `_filters` once, when the view is made (the template: which filters each column
    offers); every request then gets a copy of it with no filter active."""

    @property
    def _filters(self):
        template = self.__dict__.get("_filters_template")
        if template is None or not has_request_context():
            return template
        mine = g.setdefault("_request_filters", {})
        filters = mine.get(id(self))
        if filters is None:
            filters = mine[id(self)] = copy.copy(template)
            filters.clear_filters()  # new lists: the template's stay empty
        return filters

    @_filters.setter
    def _filters(self, value):
        self.__dict__["_filters_template"] = value


def _short(value: str) -> str:
    return value if len(value) <= 40 else value[:40] + "…"


def _views_by_name() -> dict:
    """Every ModelView the app serves (and each one's related lists), by class name."""
    views = current_app.extensions.get("_list_views")
    if views is None:
        views = {}
        for view in current_app.appbuilder.baseviews:
            if isinstance(view, BaseCRUDView):
                views[view.__class__.__name__] = view
                for related in view._related_views or []:
                    views.setdefault(related.__class__.__name__, related)
        current_app.extensions["_list_views"] = views
    return views


def _filter_problem(view, column: str, index: str, value: str) -> str | None:
    endpoint = (request.endpoint or "").rsplit(".", 1)[-1]
    filters = view._filters
    offered = filters.get_search_filters() if endpoint in SEARCH_ENDPOINTS else filters._all_filters
    if column not in offered:
        return f"Ignored a filter on “{_short(column)}”: this list cannot be filtered by it."
    if int(index) >= len(offered[column]):
        return f"Ignored a filter on “{_short(column)}”: it has no filter number {index}."
    if not stock_filter_takes(offered[column][int(index)], view.datamodel, column, value):
        return f"Ignored the filter value “{_short(value)}” on “{_short(column)}”: it is not a value of that column."
    return None


def stock_filter_takes(flt, datamodel, column: str, value) -> bool:
    """Whether FAB's own filter can compare `column` with `value` (text from a query string, or
    any JSON value from rison) without an error.

    FAB passes the value to the database as it came: on PostgreSQL a number past the column's
    range, or any flag but "y" (its form's ticked box) or true/false, raised; text given a
    number, or a number given text, raised too. Our filters (and FAB's relation filters, which
    catch their own errors) parse their values themselves."""
    if type(flt).__module__ != "flask_appbuilder.models.sqla.filters" or datamodel.is_relation(column):
        return True
    if isinstance(flt, (FilterIn, FilterNotIn)) and isinstance(value, list):
        return bool(value) and all(_fits(datamodel, column, v) for v in value)
    return _fits(datamodel, column, value)


def _fits(datamodel, column: str, value) -> bool:
    if datamodel.is_boolean(column):
        return value is True or value is False or value == "y"
    if datamodel.is_integer(column):
        big = isinstance(datamodel.list_columns[column].type, BigInteger)
        return whole_number(value, *((BIGINT_MIN, BIGINT_MAX) if big else (INT_MIN, INT_MAX))) is not None
    if datamodel.is_float(column) or datamodel.is_numeric(column):
        if isinstance(value, float):
            return math.isfinite(value)
        number = decimal_number(value)
        kind = datamodel.list_columns[column].type
        precision, scale = getattr(kind, "precision", None), getattr(kind, "scale", None) or 0
        # Numeric(p, s) holds fewer than 10^(p - s): PostgreSQL refuses a larger value in a comparison.
        return number is not None and (precision is None or abs(number) < Decimal(10) ** (precision - scale))
    return isinstance(value, str)


def clean_list_arguments():
    """before_request: take the list arguments that cannot be used out of request.args, with a
    message each, so FAB (and our views) read only valid ones."""
    views = _views_by_name()
    own = views.get(request.blueprint or "")
    if own is None or not isinstance(own, BaseCRUDView):
        return None
    kept, problems, changed = [], [], False
    for name, value in request.args.items(multi=True):
        problem = None
        if _FILTER.search(name):
            index, column = _FILTER.search(name).groups()
            problem = _filter_problem(own, column, index, value)
        elif _PAGE_SIZE.search(name):
            size = whole_number(value, 1, INT_MAX)
            if size is None:
                problem = f"Ignored the page size “{_short(value)}”: it is not a whole number from 1 to {MAX_PAGE_SIZE}."
            elif size > MAX_PAGE_SIZE:
                value, changed = str(MAX_PAGE_SIZE), True
        elif _PAGE.search(name):
            if whole_number(value, 0, INT_MAX) is None:
                problem = f"Ignored the page number “{_short(value)}”: it is not a page of this list."
        elif _ORDER.search(name):
            problem = _order_problem(views, _ORDER.search(name).group(1))
        if problem is None:
            kept.append((name, value))
        elif problem not in problems:
            problems.append(problem)
    if problems and (request.endpoint or "").endswith(REFUSED_AT):
        abort(400, description=" ".join(problems))
    for problem in problems:
        flash(problem, "warning")
    if problems or changed:
        request.args = ImmutableMultiDict(kept)
    return None


def _order_problem(views, view_name: str) -> str | None:
    """A sort is its column (`_oc_<View>`) and direction (`_od_<View>`), both valid or both ignored."""
    view = views.get(view_name)
    column, direction = request.args.get("_oc_" + view_name), request.args.get("_od_" + view_name)
    if view is None:
        return None  # no list of that name: FAB ignores it
    if column is not None and column not in (view.order_columns or []):
        return f"Ignored the sort by “{_short(column)}”: this list cannot be sorted by it."
    if direction is not None and direction not in ("asc", "desc"):
        return f"Ignored the sort direction “{_short(direction)}”: use asc or desc."
    return None


def rest_list_problem(api, args: dict) -> str | None:
    """What is wrong with a REST list's rison arguments (already checked against FAB's schema),
    or None. A page size over MAX_PAGE_SIZE is not wrong: the API caps it."""
    if "page" in args and whole_number(args["page"], 0, INT_MAX) is None:
        return f"page must be a whole number from 0 to {INT_MAX}."
    if "page_size" in args and whole_number(args["page_size"], 1, INT_MAX) is None:
        return f"page_size must be a whole number from 1 to {MAX_PAGE_SIZE}."
    direction = args.get("order_direction")
    if direction is not None and direction not in ("asc", "desc"):
        return "order_direction must be asc or desc."
    column = args.get("order_column")
    if column is not None and column not in (api.order_columns or []):
        return f"Invalid order by column: {_short(str(column))}"
    offered = api._filters.get_search_filters()
    for item in args.get("filters") or []:
        if not isinstance(item, dict) or not {"col", "opr", "value"} <= set(item):
            return "Each filter needs col, opr and value."
        column, operation, value = item["col"], item["opr"], item["value"]
        if not isinstance(column, str) or column not in offered:
            return f"Filter column: {_short(str(column))} not allowed to filter"
        flt = next((f for f in offered[column] if f.arg_name == operation), None)
        if flt is None:
            return f"Filter operation: {_short(str(operation))} not allowed on column: {column}"
        if not stock_filter_takes(flt, api.datamodel, column, value):
            return f"Filter value: {_short(str(value))} is not a value of column: {column}"
    return None
