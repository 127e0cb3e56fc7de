"""The list widget of every list (the customers' adds its row menu): FAB's, with the pager that carries cursors
(widgets/pager.html) and rows built once, in Python.

FAB's Jinja rows build the show, edit and delete URLs of every row (three url_for and a
permission check each) and call each cell's formatter through the template: a third of a
list page's time. Here the URLs are built once, for pk 0, and each row's pk replaces it.
"""
from flask_appbuilder.widgets import ListWidget
from flask import url_for
from markupsafe import Markup, escape

from app.views.formatters import text as formatters_text


class ModelListWidget(ListWidget):
    template = "widgets/model_list.html"

    # Whether each row has a menu of the list's actions (on its one row: `<view>.action`).
    row_menu = False
    # Whether each cell carries its column's class (col-<column>), for a list whose CSS sizes or
    # folds its columns (the customers'), or right-aligns its amounts (MoneyListWidget).
    column_classes = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.template_args["table_rows"] = self.table_rows

    def menu_entries(self, item: dict, menu: list) -> list:
        """The row menu's entries (text, icon, url) for this row; every one by default."""
        return [(text, icon, url) for _name, text, icon, url in menu]

    def table_rows(self, show_url: str, edit_url: str, delete_url: str, checkboxes: bool,
                   labels: tuple[str, str, str], link_filters: str = "") -> Markup:
        """The <tr>s: a checkbox, the show/edit/delete buttons and a menu of the row's actions,
        then each column formatted (in a cell of class col-<column> with column_classes). The URLs
        end in "0" (built for pk 0), replaced by each row's pk."""
        args = self.template_args
        formatters = args["formatters_columns"]
        # column -> a function of the whole row, for a cell that needs more than its own value
        # (an amount with its row's currency): the view's row_formatters
        row_formatters = args.get("row_formatters") or {}
        columns = [row_formatters.get(column) or (
            lambda item, column=column, formatter=formatters.get(column) or formatters_text: formatter(item[column]))
            for column in args["include_columns"]]
        classes = [f' class="col-{escape(column)}"' if self.column_classes else ""
                   for column in args["include_columns"]]
        show_label, edit_label, delete_label = (escape(label) for label in labels)
        show_url, edit_url, delete_url = (escape(url[:-1]) for url in (show_url, edit_url, delete_url))
        suffix = escape(link_filters)
        view = args["modelview_name"]
        menu = [(a.name, escape(a.text), escape(a.icon or ""), escape(url_for(f"{view}.action", name=a.name, pk=0)[:-1]))
                for a in (args["actions"].values() if self.row_menu else ())]
        rows = []
        for pk, item in zip(args["pks"], args["value_columns"]):
            pk = escape(pk)
            cells = []
            if checkboxes:
                cells.append(f'<td><input id="{pk}" class="action_check" name="rowid" value="{pk}" type="checkbox"></td>')
            if show_url or edit_url or delete_url:
                cells.append('<td><div class="btn-group btn-group-xs" style="display: flex;">')
                if show_url:
                    cells.append(f'<a href="{show_url}{pk}{suffix}" class="btn btn-sm btn-default" title="{show_label}">'
                                 '<span class="sr-only">Show</span><i class="fa fa-search"></i></a>')
                if edit_url:
                    cells.append(f'<a href="{edit_url}{pk}{suffix}" class="btn btn-sm btn-default" title="{edit_label}">'
                                 '<span class="sr-only">Edit</span><i class="fa fa-edit"></i></a>')
                if delete_url:
                    cells.append(f'<a href="#" data-delete="{delete_url}{pk}" class="btn btn-sm btn-default confirm '
                                 f'row-delete" title="{delete_label}"><span class="sr-only">Delete</span>'
                                 '<i class="fa fa-trash"></i></a>')
                if menu:
                    items = "".join(f'<li><a href="{url}{pk}"><i class="fa {icon}"></i> {text}</a></li>'
                                    for text, icon, url in self.menu_entries(item, menu))
                    cells.append('<div class="btn-group"><button type="button" class="btn btn-sm btn-default '
                                 'dropdown-toggle row-actions" data-toggle="dropdown" title="Actions">'
                                 '<span class="sr-only">Actions</span><i class="fa fa-ellipsis-v"></i></button>'
                                 f'<ul class="dropdown-menu">{items}</ul></div>')
                cells.append("</div></td>")
            cells.extend(f"<td{css}>{escape(cell(item))}</td>" for css, cell in zip(classes, columns))
            rows.append(f"<tr>{''.join(cells)}</tr>")
        return Markup("\n".join(rows))



class MoneyListWidget(ModelListWidget):
    """A list of money records: each cell with its column's class, so app.css right-aligns the amounts
    under their headings (widgets/model_list.html gives the headings the same classes)."""

    column_classes = True

class FabListWidget(ListWidget):
    """FAB's own list widget (the security screens keep it), with the count label every list has."""

    template = "widgets/fab_list.html"


class CountLabel:
    """For FAB's own screens: their list's count reads "<list title>: N", as every other list's."""

    list_widget = FabListWidget

    def _get_list_widget(self, *args, **kwargs):
        widgets = super()._get_list_widget(*args, **kwargs)
        widgets["list"].template_args["list_title"] = self.list_title
        return widgets
