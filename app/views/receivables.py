"""Aged receivables and the ledger as CSV (services/billing/exports.py): a small page with the date
pickers and the Download buttons, and the two downloads, each within the user's scope (a reseller's
user sees its own customers only). Finance, Admin and Reseller by default (app/security.py)."""
from datetime import date

from flask import g
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name

from app.services import csv_export
from app.services.billing import exports
from app.services.errors import ServiceError
from app.views import downloads


class ReceivablesView(BaseView):
    route_base = "/receivables"
    default_view = "show"
    base_permissions = ["can_show", "can_export"]

    @expose("/")
    @has_access
    def show(self):
        return self.render_template("receivables/page.html", today=date.today().isoformat(),
                                    title="Aged receivables")

    @expose("/aged.csv")
    @has_access
    @permission_name("export")
    def aged(self):
        """What each customer owed at the end of ?as_of= (today when not given), by age, as CSV."""
        as_of = downloads.dates("as_of")["as_of"] or date.today()
        if as_of > date.today():
            raise ServiceError("Aged receivables are as at today or an earlier date.")
        return downloads.csv_download(exports.aged_statement(g.user, as_of), exports.AGED_HEADER,
                                      "aged-receivables", as_of)

    @expose("/ledger.csv")
    @has_access
    @permission_name("export")
    def ledger(self):
        """Every ledger entry (?since=, ?until=: effective on or between) as CSV."""
        days = downloads.dates("since", "until")
        stmt = exports.ledger_statement(g.user, days["since"], days["until"])
        return downloads.csv_download(stmt, csv_export.header(exports.LEDGER_COLUMNS), "ledger")
