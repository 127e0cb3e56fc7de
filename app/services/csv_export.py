"""CSV export: streamed in constant memory, safe to open in a spreadsheet.

A cell that starts with = + - @, a tab or a carriage return is prefixed with an
apostrophe, so a spreadsheet shows it as text instead of running it as a
formula. The escaping is done in SQL, so the same statement serves both paths:
PostgreSQL formats the CSV itself (COPY ... TO STDOUT, streamed through
psycopg); other databases are read in batches from the driver's cursor (no row
objects: every value is already text or a number) through Python's csv module.
"""
import csv
import io
from collections.abc import Iterator

from sqlalchemy import String, case, func, literal, literal_column, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.functions import GenericFunction

from app.models import Address, Customer, Reseller, Tag, customer_tag
from app.models.custom_fields import CustomField, CustomValue
from app.services import fields, money
from app.services.customers import services

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 5000


def safe(expr):
    """Text that a spreadsheet will not take for a formula."""
    return case((func.substr(expr, 1, 1).in_(FORMULA_STARTS), literal("'") + expr), else_=expr)


def safe_text(text: str) -> str:
    """safe() in Python, for the headers that users named (the custom fields)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class fixed_text(GenericFunction):  # noqa: N801  (an SQL function's name)
    """fixed_text(amount, digits): the amount rounded half away from zero to `digits` decimals,
    as text with exactly that many ("12.50", "1235", "7.250"), in SQL. (SQLite rounds the REAL
    it keeps a NUMERIC as, so a tie such as 1.005 may go down there; PostgreSQL's numeric is exact.)"""

    type = String()
    inherit_cache = True


@compiles(fixed_text)
def _fixed_text(element, compiler, **kw):  # SQLite keeps NUMERIC as a number: 12.5
    amount, digits = (compiler.process(c, **kw) for c in element.clauses)
    return f"printf('%.' || {digits} || 'f', round({amount}, {digits}))"


@compiles(fixed_text, "postgresql")
def _fixed_text_postgresql(element, compiler, **kw):  # round(numeric, n) prints n decimals
    amount, digits = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(round({amount}, {digits}) AS TEXT)"


def amount_text(amount, currency):
    """An amount as text with its currency's decimals (money.minor_units), in SQL."""
    by_units = {}
    for code in sorted(fields.CURRENCIES):
        by_units.setdefault(money.minor_units(code), []).append(code)
    usual = max(by_units, key=lambda units: len(by_units[units]))  # most currencies' (two): the CASE's else
    return case(*((currency.in_(codes), fixed_text(amount, literal_column(str(units))))
                  for units, codes in sorted(by_units.items()) if units != usual),
                else_=fixed_text(amount, literal_column(str(usual))))


# A customer's tag names joined by "; ". A large export aggregates every customer's
# tags once and joins them (a subquery per row made a million-row export four times
# slower than the plain SELECT); a small one looks up its few customers' tags.
TAGS = (select(customer_tag.c.customer_id, func.aggregate_strings(Tag.name, "; ").label("names"))
        .join(Tag, Tag.id == customer_tag.c.tag_id)
        .group_by(customer_tag.c.customer_id)
        .subquery("customer_tags"))
TAGS_OF_ONE = (select(func.aggregate_strings(Tag.name, "; "))
               .join(customer_tag, customer_tag.c.tag_id == Tag.id)
               .where(customer_tag.c.customer_id == Customer.id)
               .scalar_subquery())
LARGE_EXPORT = 20_000


# (header, SQL expression); text that users typed goes through safe().
CUSTOMER_COLUMNS = [
    ("Customer ID", Customer.id),
    ("Type", Customer.customer_type),
    ("Title", safe(Customer.title)),
    ("First name", safe(Customer.first_name)),
    ("Surname", safe(Customer.surname)),
    ("Company name", safe(Customer.company_name)),
    ("Name", safe(Customer.name)),
    ("E-mail", safe(Customer.email)),
    ("Phone", safe(Customer.phone)),
    ("Mobile", safe(Customer.mobile)),
    ("Date joined", Customer.joined_on),
    ("Balance", amount_text(Customer.balance, Customer.currency)),
    ("Currency", Customer.currency),
    ("Services", None),  # these two: see customers_statement
    ("Status", Customer.status),
    ("Tags", None),
    ("Reseller", safe(Reseller.name)),
    ("Advertising source", safe(Customer.advertising_source)),
    ("Creditor days", Customer.creditor_days),
    ("Building type", Customer.building_type),
    ("Third-party reference", safe(Customer.third_party_reference)),
]


# The billing address (at most one a customer: ux_address_billing), joined, so it adds no row.
BILLING = aliased(Address, name="billing")
BILLING_COLUMNS = [
    ("Billing address line 1", safe(BILLING.line1)),
    ("Billing address line 2", safe(BILLING.line2)),
    ("Billing address line 3", safe(BILLING.line3)),
    ("Billing town", safe(BILLING.town)),
    ("Billing county", safe(BILLING.county)),
    ("Billing postcode", safe(BILLING.postcode)),
    ("Billing country", safe(BILLING.country)),
]


def export_fields(session: Session) -> list[CustomField]:
    """The custom fields the export has a column for: the active ones, in the profile's order."""
    return list(session.scalars(select(CustomField).where(CustomField.active.is_(True))
                                .order_by(CustomField.position, CustomField.name, CustomField.id)))


def customers_statement(customer_select, rows_expected: int, custom_fields=()):
    """The export columns for the customers that `customer_select` (a Select over Customer,
    with the user's scope, filters and order) returns, in its order: the customer's, its
    billing address's, then one per field of `custom_fields` (export_fields) with the value
    as the profile shows it (custom_fields.display: the stored text). The address and every
    field's value are joined (one row at most each: a primary key, a unique index)."""
    large = rows_expected > LARGE_EXPORT
    services_of = services.summaries() if large else None
    aggregated = {"Tags": safe(TAGS.c.names if large else TAGS_OF_ONE),
                  "Services": safe(services_of.c.summary if large else services.summary_of_one())}
    exprs = [aggregated.get(header, expr) for header, expr in CUSTOMER_COLUMNS]
    exprs += [expr for _, expr in BILLING_COLUMNS]
    joined = (Customer.__table__.outerjoin(Reseller.__table__, Reseller.id == Customer.reseller_id)
              .outerjoin(BILLING, (BILLING.customer_id == Customer.id) & (BILLING.kind == "billing")))
    for field in custom_fields:
        value = aliased(CustomValue, name=f"cf_{field.id}")
        joined = joined.outerjoin(value, (value.customer_id == Customer.id) & (value.field_id == field.id))
        exprs.append(safe(value.value))
    if large:
        joined = (joined.outerjoin(TAGS, TAGS.c.customer_id == Customer.id)
                  .outerjoin(services_of, services_of.c.customer_id == Customer.id))
    columns = [expr.label(f"c{i}") for i, expr in enumerate(exprs)]
    return customer_select.with_only_columns(*columns).select_from(joined)


def labelled(columns) -> list:
    """The expressions of an export's (header, SQL expression) columns, labelled c0, c1... in order."""
    return [expr.label(f"c{i}") for i, (_header, expr) in enumerate(columns)]


def header(columns) -> list[str]:
    """The header row of an export's (header, SQL expression) columns."""
    return [name for name, _expr in columns]


def list_statement(rows_select, columns, joined):
    """The export of a list: `rows_select` (the list's own Select of ids, with the user's scope,
    its filters and its order) with `columns` (header, SQL expression) read from `joined`
    (the list's table with what the columns join: one row each, so the order and count stay)."""
    return rows_select.with_only_columns(*labelled(columns)).select_from(joined)


def headers(custom_fields=()) -> list[str]:
    return ([h for h, _ in CUSTOMER_COLUMNS] + [h for h, _ in BILLING_COLUMNS]
            + [safe_text(field.name) for field in custom_fields])


def stream_csv(session: Session, stmt, header: list[str]) -> Iterator[bytes]:
    """Yield the CSV of `stmt`'s rows in chunks, header first, UTF-8 with a BOM for spreadsheets."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180; also quotes a lone CR
    writer.writerow(header)
    yield ("\ufeff" + out.getvalue()).encode()
    if session.get_bind().dialect.name == "postgresql":
        yield from _copy_from_postgresql(session, stmt)
        return
    result = session.connection().execute(stmt)
    try:
        while batch := result.cursor.fetchmany(BATCH):
            out.seek(0)
            out.truncate()
            writer.writerows(batch)
            yield out.getvalue().encode()
    finally:
        result.close()


def _copy_from_postgresql(session: Session, stmt) -> Iterator[bytes]:
    compiled = stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)",
                         compiled.params) as copy:
            for data in copy:
                yield bytes(data)
