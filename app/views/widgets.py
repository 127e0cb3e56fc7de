"""Widgets shared by the model screens: the filter bar (each field rendered once per set of
options; drop-downs of real values) and the chips that say what a list is filtered by."""
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import g, request
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.widgets import RenderTemplateWidget, SearchWidget
from sqlalchemy.orm import load_only
from wtforms import SelectField

from app.extensions import db
from app.models import Reseller
from app.models.customers import STATUSES
from app.services.scope import reseller_choice_scope
from app.views.datamodel import CURSOR_ARG

_MAX_CACHED = 512
_rendered: dict[tuple, str] = {}


def _field_key(field) -> tuple:
    """Everything a search field's HTML depends on: its kind, name, value and options."""
    choices = ()
    if hasattr(field, "iter_choices"):
        choices = tuple((str(c[0]), str(c[1]), bool(c[2])) for c in field.iter_choices())
    value = field._value() if hasattr(field, "_value") else None
    return (type(field), field.name, field.id, value, choices)


def render_field(field) -> str:
    """A search field's HTML, rendered once per distinct key.

    FAB renders every field of the filter bar through WTForms on every list page,
    about a third of the page's time. On a list the fields are empty, so their HTML
    changes only when a select's options do, and the options are part of the key
    (a reseller sees other options than an admin, and gets other HTML).
    """
    key = _field_key(field)
    html = _rendered.get(key)
    if html is None:
        if len(_rendered) >= _MAX_CACHED:
            _rendered.clear()
        html = _rendered[key] = str(field())
    return html


class CachedSearchWidget(SearchWidget):
    """FAB's SearchWidget, with each field's HTML from render_field()."""

    def __call__(self, **kwargs):
        form = self.template_args["form"]
        dict_filters = self.filters.get_search_filters()
        columns = self.template_args["include_cols"]
        kwargs["label_columns"] = {col: str(form[col].label.text) for col in columns}
        kwargs["form_fields"] = {col: render_field(form[col]) for col in columns}
        kwargs["search_filters"] = {col: [str(flt.name) for flt in dict_filters[col]] for col in columns}
        kwargs["active_filters"] = self.filters.get_filters_values_tojson()
        return RenderTemplateWidget.__call__(self, **kwargs)


# ---- the filter bar's drop-downs ---------------------------------------------------------

def status_field(label: str = "Status") -> SelectField:
    """A status filter's value: one of the statuses, in words ("Dormant"), never free text."""
    return SelectField(label, choices=[(status, status.capitalize()) for status in STATUSES],
                       widget=Select2Widget())


def _selectable_resellers():
    # Resellers are few: one query, their names only, within what the user may pick.
    return (db.session.query(Reseller).options(load_only(Reseller.id, Reseller.name))
            .filter(reseller_choice_scope(g.user)).order_by(Reseller.name))


def reseller_field(label: str = "Reseller") -> QuerySelectField:
    """A reseller filter's value: the resellers the user may pick, by name (a reseller's user:
    their own, or none); no blank choice (FAB's "__None", which matches nothing)."""
    return QuerySelectField(label, query_func=_selectable_resellers, get_pk_func=lambda r: r.id,
                            get_label="name", allow_blank=False, widget=Select2Widget())


# ---- what a list is filtered by ----------------------------------------------------------

# A chip names its filter by the column's label, then the comparison unless it is the plain
# one ("Status: Dormant", "Status is not: Dormant"); some filters have a name of their own.
_CHIP_NAMES = {"search": "Search", "tag": "Tag", "no_tag": "Without tag"}
_PLAIN = {"eq", "val_eq", "reseller"}
_COMPARISONS = {"neq": "is not", "ct": "contains", "text_ct": "contains", "sw": "starts with",
                "text_sw": "starts with", "val_ge": "from", "val_le": "to"}
# Filters that treat a blank value as no filter at all (the search box sent empty).
_BLANK_IS_NONE = {"search"}
_FILTER_ARG = re.compile(r"_flt_(\d)_(.*)")  # as FAB's urltools finds them


@dataclass(frozen=True)
class FilterChip:
    """One filter a list shows: "Status" "Dormant", and the list's URL without it."""

    label: str
    value: str
    remove_url: str


def list_url(args) -> str:
    """This list's URL with `args` ((name, value) pairs) as its query string."""
    path = request.script_root + request.path
    return f"{path}?{urlencode(list(args))}" if args else path


def _kept(args, view_name: str):
    """The request's arguments without the page or pager cursor: a list filtered anew starts at
    its first page (sort and page size stay)."""
    return [(name, value) for name, value in args
            if name not in (f"page_{view_name}", CURSOR_ARG + view_name)]


def filter_chips(filters, form, label_columns: dict, view_name: str) -> list[FilterChip]:
    """A chip for each value of each filter the request set, in the order of the query string.

    Read from the request's arguments as FAB reads them (views/lists.py has already taken out
    the ones the list cannot use), so a chip is shown for exactly what the list applies. A
    value with a drop-down (status, tag, reseller) is shown as the drop-down words it, from
    the options the filter bar has already read: no query of its own."""
    offered = filters.get_search_filters()
    args = _kept(list(request.args.items(multi=True)), view_name)
    chips = []
    for position, (name, value) in enumerate(args):
        match = _FILTER_ARG.search(name)
        if not match:
            continue
        index, column = int(match.group(1)), match.group(2)
        if column not in offered or index >= len(offered[column]):
            continue
        flt = offered[column][index]
        if flt.arg_name in _BLANK_IS_NONE and not value.strip():
            continue
        column_label = str(label_columns.get(column, column))
        label = _CHIP_NAMES.get(flt.arg_name) or (
            column_label if flt.arg_name in _PLAIN
            else f"{column_label} {_COMPARISONS.get(flt.arg_name, str(flt.name).lower())}")
        chips.append(FilterChip(label, _words(form, column).get(value, value),
                                list_url(args[:position] + args[position + 1:])))
    return chips


def _words(form, column: str) -> dict:
    field = form[column] if column in form else None
    if field is None or not hasattr(field, "iter_choices"):
        return {}
    return {str(choice[0]): str(choice[1]) for choice in field.iter_choices()}


def clear_filters_url(view_name: str) -> str:
    """The list without any filter, its sort and page size kept."""
    return list_url([(n, v) for n, v in _kept(request.args.items(multi=True), view_name)
                     if not _FILTER_ARG.search(n)])


def with_filter_url(view_name: str, name: str, value: str) -> str:
    """The list with one more filter argument, the others, sort and page size kept."""
    return list_url([*_kept(request.args.items(multi=True), view_name), (name, value)])


class FilterChipsWidget(RenderTemplateWidget):
    """The chips above a list: each filter set, removable one by one, and a note of a filter the
    list applies by default (the customer list hides archived customers) with a link to lift it."""

    template = "widgets/filter_chips.html"

    def __init__(self, chips: list[FilterChip], clear_url: str = "", note: dict | None = None):
        super().__init__(chips=chips, clear_url=clear_url, note=note)
        self.chips = chips
