"""No list's filter bar loads a big table: FAB renders a relation's search field as a drop-down of
every related row, which for customers (a million of them) takes the page down. A relation to a big
table must have a typed field of its own (search_form_extra_fields)."""
from flask_appbuilder import ModelView

SMALL = {"Reseller", "Tag", "PaymentMethod", "TaxRate", "Role", "User", "PermissionView", "Permission",
         "ViewMenu", "PriceBook", "Group"}


def test_no_filter_bar_lists_the_rows_of_a_big_table(app):
    loaded = []
    for view in app.appbuilder.baseviews:
        if not isinstance(view, ModelView):
            continue
        extra = view.search_form_extra_fields or {}
        for column in view.search_columns:
            if column in extra or not view.datamodel.is_relation(column):
                continue
            related = view.datamodel.get_related_model(column).__name__
            if related not in SMALL:
                loaded.append(f"{type(view).__name__}.{column} -> {related}")
    assert loaded == [], loaded
