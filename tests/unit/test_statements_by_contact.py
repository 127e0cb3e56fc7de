"""Statements grouped by contact (statements.by_contact): an outstanding statement split by whom its
documents were made out to (the customer, or an additional invoice address an invoice was issued to);
the groups partition its lines and credits, each with its own ageing, and their closing balances sum to
the statement's."""
import uuid
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from app.extensions import db
from app.models import PaymentMethod, TaxRate
from app.services.billing import credit_notes, invoice_addresses as addresses, invoices, payments, \
    statement_documents, statements
from tests import factories

D = Decimal
TODAY = date.today()
INSURER = {"name": "Acme Insurance", "contact_name": "Claims Dept", "line1": "1 Policy Road", "town": "York",
           "email": "claims@example.com"}


def key():
    return str(uuid.uuid4())


def finance():
    return factories.user("finance")


def issued(customer, amount, days_ago, address=None):
    """An invoice issued `days_ago` (due that day), made out to `address` (its own choice) when given."""
    day = (TODAY - timedelta(days=days_ago)).isoformat()
    rate = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
    draft = invoices.create_draft(db.session, finance(), customer.id, {"issue_date": day, "due_date": day, "lines": [
        {"description": "Work", "quantity": 1, "unit_price": amount, "tax_rate_id": rate}]}, key())
    if address is not None:
        addresses.choose_for_invoice(db.session, finance(), draft.id, address.id)
    return invoices.issue(db.session, finance(), draft.id, key())


def address(**data):
    return addresses.add(db.session, factories.user("admin"), {**INSURER, **data})


def cash():
    return db.session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))


def groups_of(customer, day=TODAY):
    whole = statements.outstanding(db.session, finance(), customer.id, day)
    return whole, statements.by_contact(db.session, whole)


def partitions(whole, groups):
    """The groups' lines and credits are the statement's, each once; their closing balances sum to its."""
    assert sorted(id(l) for g in groups for l in g.lines) == sorted(id(l) for l in whole.lines)
    assert sorted(id(l) for g in groups for l in g.credits) == sorted(id(l) for l in whole.credits)
    assert sum((g.closing_balance for g in groups), D(0)) == whole.closing_balance
    assert [sum(b) for b in zip(*(g.ageing.buckets for g in groups))] == list(whole.ageing.buckets)
    for g in groups:
        assert g.ageing.total == g.closing_balance and g.ageing.credit == sum((c.outstanding for c in g.credits), D(0))


def test_a_customer_with_no_additional_addressee_is_one_statement_unchanged(ctx):
    customer = factories.customer()
    issued(customer, "40.00", 10)
    whole, groups = groups_of(customer)
    assert groups == [whole] and groups[0].contact == statements.CUSTOMER and groups[0].contact_name is None


def test_each_invoice_goes_to_whom_it_was_made_out_to_with_its_own_ageing(ctx):
    customer = factories.customer(first_name="Ada", surname="Lovelace")
    insurer, landlord = address(), address(name="Bell Lettings", contact_name=None, email=None)
    own = issued(customer, "100.00", 45)
    claim = issued(customer, "250.00", 70, insurer)
    addresses.choose_for_customer(ctx, finance(), customer.id, landlord.id)
    rent = issued(customer, "80.00", 5)  # from the customer's choice: recorded as the landlord's
    addresses.choose_for_customer(ctx, finance(), customer.id, None)
    payments.record_external(ctx, finance(), customer.id, {"amount": "30.00", "method_id": cash()}, key())

    whole, groups = groups_of(customer)
    partitions(whole, groups)
    assert [(g.contact_id, g.contact_name) for g in groups] == [
        (None, customer.name), (insurer.id, "Acme Insurance (Claims Dept)"), (landlord.id, "Bell Lettings")]
    mine, acme, bell = groups
    assert [l.reference for l in mine.lines] == [own.number] and [c.kind for c in mine.credits] == ["external"]
    assert mine.closing_balance == D("70.00") and mine.ageing.buckets == (D(0), D(0), D("100.00"), D(0), D(0))
    assert not mine.billing_address.startswith("Bell")  # the customer's own address, not a chosen one
    assert [l.reference for l in acme.lines] == [claim.number] and acme.billing_address == insurer.text
    assert acme.ageing.buckets == (D(0), D(0), D(0), D("250.00"), D(0)) and acme.credits == []
    assert [l.reference for l in bell.lines] == [rent.number] and bell.closing_balance == D("80.00")
    assert bell.ageing.buckets == (D(0), D("80.00"), D(0), D(0), D(0))
    assert statements.group_of(ctx, whole, str(insurer.id)) == acme
    assert statements.group_of(ctx, whole, "customer") == mine
    # Its PDF says whose account it is, under the insurer's address; the customer's own needs no such line.
    assert statement_documents.document(ctx, acme, {})["statement"]["account"] == f"{customer.name} (#{customer.id})"
    assert f"For the account of {customer.name}" in statement_documents.statement_html(ctx, acme, {})
    assert statement_documents.document(ctx, mine, {})["statement"]["account"] is None


def test_a_credit_note_stays_with_the_invoice_it_credits_and_empty_groups_are_left_out(ctx):
    customer = factories.customer()
    insurer = address()
    claim = issued(customer, "100.00", 20, insurer)
    payments.record_payment(ctx, finance(), claim.id, {"amount": "100.00", "method_id": cash()}, key())
    rate = ctx.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
    note = credit_notes.create(ctx, finance(), {"description": "Excess back", "lines": [
        {"description": "Excess", "quantity": 1, "unit_price": "25.00", "tax_rate_id": rate}]}, key(),
        invoice_id=claim.id)  # the invoice is paid: all of it is account credit
    whole, groups = groups_of(customer)
    partitions(whole, groups)
    assert [g.contact_id for g in groups] == [insurer.id]  # the customer's own group has nothing
    assert [c.reference for c in groups[0].credits] == [note.number] and groups[0].closing_balance == D("-25.00")


def test_an_address_of_another_reseller_than_the_customers_is_ignored(ctx):
    from app.services.customers.update import update_customer
    customer = factories.customer(reseller_id=factories.reseller_id("Reseller A"))
    ours = address(reseller_id=factories.reseller_id("Reseller A"))
    issued(customer, "60.00", 10, ours)
    assert len(groups_of(customer)[1]) == 1 and groups_of(customer)[1][0].contact_id == ours.id
    update_customer(ctx, factories.user("admin"), customer.id, {"reseller_id": factories.reseller_id("Reseller B")})
    whole, groups = groups_of(customer)
    assert groups == [whole]  # A's insurer is no addressee of a customer of B's


def test_an_activity_statement_is_never_grouped(ctx):
    customer = factories.customer()
    issued(customer, "60.00", 10, address())
    period = statements.activity(ctx, finance(), customer.id, TODAY - timedelta(days=30), TODAY)
    assert statements.by_contact(ctx, period) == [period]
