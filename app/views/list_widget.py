"""The list widget of every list but the customers': FAB's, with the pager that carries cursors
(widgets/pager.html) and rows built once, in Python.

FAB's Jinja rows build the show, edit and delete URLs of every row (three url_for and a
permission check each) and call each cell's formatter through the template: a third of a
list page's time. Here the URLs are built once, for pk 0, and each row's pk replaces it.
"""
from flask_appbuilder.widgets import ListWidget
from markupsafe import Markup, escape

from app.views.formatters import text as formatters_text


class ModelListWidget(ListWidget):
    template = "widgets/model_list.html"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.template_args["table_rows"] = self.table_rows

    def table_rows(self, show_url: str, edit_url: str, delete_url: str, checkboxes: bool,
                   labels: tuple[str, str, str], link_filters: str = "") -> Markup:
        """The <tr>s: a checkbox, the show/edit/delete buttons, then each column formatted.
        The URLs end in "0" (built for pk 0), replaced by each row's pk."""
        args = self.template_args
        formatters = args["formatters_columns"]
        columns = [(column, formatters.get(column) or formatters_text) for column in args["include_columns"]]
        show_label, edit_label, delete_label = (escape(label) for label in labels)
        show_url, edit_url, delete_url = (escape(url[:-1]) for url in (show_url, edit_url, delete_url))
        suffix = escape(link_filters)
        rows = []
        for pk, item in zip(args["pks"], args["value_columns"]):
            pk = escape(pk)
            cells = []
            if checkboxes:
                cells.append(f'<td><input id="{pk}" class="action_check" name="rowid" value="{pk}" type="checkbox"></td>')
            if show_url or edit_url or delete_url:
                cells.append('<td><center><div class="btn-group btn-group-xs" style="display: flex;">')
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
                cells.append("</div></center></td>")
            cells.extend(f"<td>{escape(formatter(item[column]))}</td>" for column, formatter in columns)
            rows.append(f"<tr>{''.join(cells)}</tr>")
        return Markup("\n".join(rows))
