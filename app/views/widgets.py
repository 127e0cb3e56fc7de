"""Widgets shared by the model screens."""
from flask_appbuilder.widgets import RenderTemplateWidget, SearchWidget

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
