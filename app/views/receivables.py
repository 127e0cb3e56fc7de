"""The Receivables page: outstanding per currency and in the base currency
(services/billing/receivables.py), the aged buckets per currency as at a chosen date, and the aged
receivables and ledger CSVs (services/billing/exports.py), each within the user's scope (a
reseller's user sees its own customers only). Finance, Admin and Reseller by default
(app/security.py)."""
from datetime import date

from flask import g, request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name

from app.extensions import db
from app.services import csv_export, fields, money
from app.services.billing import exports, receivables
from app.services.errors import ServiceError
from app.views import downloads


class ReceivablesView(BaseView):
    route_base = "/receivables"
    default_view = "show"
    base_permissions = ["can_show", "can_export"]

    @expose("/")
    @has_access
    def show(self):
        """The report; with ?as_of= (today or earlier) the aged buckets per currency as at that date."""
        today = date.today()
        as_of, error = _as_of(request.args.get("as_of"), today)
        return self.render_template(
            "receivables/page.html", report=receivables.report(db.session, g.user, today),
            aged=receivables.aged(db.session, g.user, as_of) if as_of else None, as_of=as_of, as_of_error=error,
            buckets=receivables.BUCKETS, money=money.format, today=today.isoformat(), title="Receivables")

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


def _as_of(value: str | None, today: date) -> tuple[date | None, str | None]:
    """The aged totals' date from ?as_of= (absent: none asked), or why it cannot be used."""
    value = (value or "").strip()
    if not value:
        return None, None
    day = fields.iso_date(value)
    if day is None:
        return None, "Enter the date as YYYY-MM-DD."
    if day > today:
        return None, "Aged receivables are as at today or an earlier date."
    if day < downloads.EARLIEST:
        return None, f"Aged receivables are as at {downloads.EARLIEST.isoformat()} or later."
    return day, None
