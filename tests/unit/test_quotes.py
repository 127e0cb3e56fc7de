"""Quotes through their service: priced as invoices, numbered when sent, accepted into one draft
invoice, never posting to the ledger."""
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import Customer, Invoice, LedgerEntry, Quote, TaxRate
from app.services.billing import invoices, quotes
from app.services.errors import AlreadyDone, Forbidden, Invalid, NotFound
from tests import factories

D = Decimal
TODAY = date.today()


def key():
    return str(uuid.uuid4())


def rate(name):
    return db.session.scalar(select(TaxRate.id).where(TaxRate.name == name))


def rows(*lines, tax="Standard rate"):
    return [{"description": f"Line {i}", "quantity": q, "unit_price": p, "tax_rate_id": rate(tax), "category": "parts"}
            for i, (q, p) in enumerate(lines)]


def draft(customer, *lines, actor="admin", **data):
    data.setdefault("expires_on", (TODAY + timedelta(days=30)).isoformat())
    return quotes.create_draft(db.session, factories.user(actor), customer.id, {"lines": rows(*lines), **data}, key())


def sent(customer, *lines, **data):
    quote = draft(customer, *lines, **data)
    return quotes.send(db.session, factories.user("admin"), quote.id, key())


def postings():
    return db.session.scalar(select(func.count(LedgerEntry.id)))


def invoice_count(customer):
    return db.session.scalar(select(func.count(Invoice.id)).where(Invoice.customer_id == customer.id))


def expire(quote):
    """As if the days went by: the quote's expiry date is yesterday."""
    db.session.execute(update(Quote).where(Quote.id == quote.id)
                       .values(issue_date=TODAY - timedelta(days=10), expires_on=TODAY - timedelta(days=1)))
    db.session.commit()
    db.session.expire_all()


@pytest.mark.parametrize("currency, lines", [
    ("JPY", [("3", "1001"), ("1.5", "333")]),
    ("BHD", [("1", "1.005"), ("3", "0.335"), ("0.5", "0.001")]),
    ("GBP", [("3", "0.33"), ("1.5", "0.05")]),
])
def test_a_quote_is_priced_exactly_as_an_invoice(ctx, currency, lines):
    customer = factories.customer(currency=currency)
    admin = factories.user("admin")
    quote = draft(customer, *lines)
    invoice = invoices.create_draft(ctx, admin, customer.id, {"lines": rows(*lines)}, key())
    assert [(l.net, l.tax, l.tax_percent) for l in quote.lines] == [(l.net, l.tax, l.tax_percent) for l in invoice.lines]
    assert (quote.net_total, quote.tax_total, quote.total) == (invoice.net_total, invoice.tax_total, invoice.total)
    assert quote.currency == currency and quote.number is None and quote.status == "draft"


def test_jpy_decimals_are_refused_and_expires_on_is_required(ctx):
    customer = factories.customer(currency="JPY")
    with pytest.raises(Invalid) as error:
        draft(customer, ("1", "10.5"))
    assert "lines.0.unit_price" in error.value.errors
    with pytest.raises(Invalid) as error:
        quotes.create_draft(ctx, factories.user("admin"), customer.id, {"lines": rows(("1", "10"))}, key())
    assert "expires_on" in error.value.errors
    with pytest.raises(Invalid) as error:
        draft(customer, ("1", "10"), issue_date=TODAY.isoformat(), expires_on=(TODAY - timedelta(days=1)).isoformat())
    assert "expires_on" in error.value.errors
    assert ctx.scalar(select(func.count(Quote.id))) == 0


def test_numbers_are_taken_on_send_gap_free_and_kept(ctx):
    customer = factories.customer()
    admin = factories.user("admin")
    first, second, third = (draft(customer, ("1", "10.00")) for _ in range(3))
    empty = quotes.create_draft(ctx, admin, customer.id, {"expires_on": TODAY.isoformat()}, key())
    with pytest.raises(Invalid):  # no lines: not sent, and its number is not used up
        quotes.send(ctx, admin, empty.id, key())
    ctx.rollback()
    assert quotes.send(ctx, admin, second.id, key()).number == "QUO-1"
    assert quotes.send(ctx, admin, first.id, key()).number == "QUO-2"
    with pytest.raises(AlreadyDone):
        quotes.send(ctx, admin, first.id, key())
    ctx.rollback()
    assert quotes.send(ctx, admin, third.id, key()).number == "QUO-3"
    assert quotes.get_quote(ctx, admin, first.id).number == "QUO-2"
    assert invoice_count(customer) == 0  # quotes make no invoice numbers either


def test_only_a_draft_is_edited_a_sent_quote_only_gets_a_new_expiry_date(ctx):
    customer = factories.customer()
    admin = factories.user("admin")
    quote = draft(customer, ("1", "10.00"))
    quote = quotes.update(ctx, admin, quote.id, {"lines": rows(("2", "10.00")), "notes": "Two"}, key())
    assert (quote.total, quote.notes) == (D("24.00"), "Two")
    quotes.send(ctx, admin, quote.id, key())
    with pytest.raises(Invalid) as error:
        quotes.update(ctx, admin, quote.id, {"lines": rows(("3", "10.00"))}, key())
    assert "only a draft" in str(error.value)
    ctx.rollback()
    later = TODAY + timedelta(days=90)
    assert quotes.extend(ctx, admin, quote.id, later.isoformat(), key()).expires_on == later
    assert quotes.get_quote(ctx, admin, quote.id).total == D("24.00")


def test_accept_makes_one_draft_invoice_with_the_same_lines_and_links_both(ctx):
    customer = factories.customer(currency="BHD")
    admin = factories.user("admin")
    quote = sent(customer, ("3", "0.335"), ("1", "1.005"), notes="As discussed")
    invoice = quotes.accept(ctx, admin, quote.id, key())
    assert invoice.status == "draft" and invoice.number is None and invoice.customer_id == customer.id
    assert [(l.description, l.category, l.quantity, l.unit_price, l.tax_rate_id, l.net, l.tax) for l in invoice.lines] \
        == [(l.description, l.category, l.quantity, l.unit_price, l.tax_rate_id, l.net, l.tax) for l in quote.lines]
    assert (invoice.total, invoice.notes, invoice.issue_date) == (quote.total, "As discussed", TODAY)
    quote = quotes.get_quote(ctx, admin, quote.id)
    assert (quote.status, quote.invoice_id) == ("accepted", invoice.id)
    assert quotes.quote_of(ctx, invoice).id == quote.id
    assert postings() == 0  # a quote and its draft invoice post nothing
    # Accepting again (a new key) returns the same invoice; the same key twice is AlreadyDone.
    again = key()
    assert quotes.accept(ctx, admin, quote.id, again).id == invoice.id
    with pytest.raises(AlreadyDone):
        quotes.accept(ctx, admin, quote.id, again)
    ctx.rollback()
    assert invoice_count(customer) == 1
    with pytest.raises(Invalid):  # an accepted quote is not declined afterwards
        quotes.decline(ctx, admin, quote.id, key())
    ctx.rollback()
    invoices.issue(ctx, admin, invoice.id, key())  # the invoice is an ordinary draft: issued as any
    assert postings() == 1


def test_deleting_the_draft_invoice_opens_the_quote_again(ctx):
    customer = factories.customer()
    admin = factories.user("admin")
    quote = sent(customer, ("1", "10.00"))
    invoice = quotes.accept(ctx, admin, quote.id, key())
    invoices.delete_draft(ctx, admin, invoice.id)
    quote = quotes.get_quote(ctx, admin, quote.id)
    assert (quote.status, quote.invoice_id) == ("sent", None)
    assert invoice_count(customer) == 0
    again = quotes.accept(ctx, admin, quote.id, key())
    assert invoice_count(customer) == 1 and quotes.get_quote(ctx, admin, quote.id).invoice_id == again.id


def test_an_expired_quote_is_accepted_only_after_its_date_is_moved(ctx):
    customer = factories.customer()
    admin = factories.user("admin")
    quote = sent(customer, ("1", "10.00"))
    expire(quote)
    assert quotes.shown_status(quotes.get_quote(ctx, admin, quote.id)) == "expired"
    with pytest.raises(Invalid) as error:
        quotes.accept(ctx, admin, quote.id, key())
    assert "expired on" in error.value.errors["expires_on"][0] and "move its expiry date" in str(error.value)
    ctx.rollback()
    with pytest.raises(Invalid):  # moved into the past: still expired
        quotes.extend(ctx, admin, quote.id, (TODAY - timedelta(days=2)).isoformat(), key())
    ctx.rollback()
    assert invoice_count(customer) == 0
    quotes.extend(ctx, admin, quote.id, TODAY.isoformat(), key())
    assert quotes.shown_status(quotes.get_quote(ctx, admin, quote.id)) == "sent"
    assert quotes.accept(ctx, admin, quote.id, key()).status == "draft"


def test_a_declined_or_draft_quote_cannot_be_accepted(ctx):
    customer = factories.customer()
    admin = factories.user("admin")
    unsent = draft(customer, ("1", "10.00"))
    with pytest.raises(Invalid):
        quotes.accept(ctx, admin, unsent.id, key())
    ctx.rollback()
    quote = sent(customer, ("1", "10.00"))
    assert quotes.decline(ctx, admin, quote.id, key()).status == "declined"
    with pytest.raises(AlreadyDone):
        quotes.decline(ctx, admin, quote.id, key())
    ctx.rollback()
    with pytest.raises(Invalid) as error:
        quotes.accept(ctx, admin, quote.id, key())
    assert "declined" in str(error.value)
    ctx.rollback()
    with pytest.raises(Invalid):
        quotes.extend(ctx, admin, quote.id, (TODAY + timedelta(days=5)).isoformat(), key())
    ctx.rollback()
    assert invoice_count(customer) == 0


def test_only_drafts_are_deleted(ctx):
    customer = factories.customer()
    admin = factories.user("admin")
    quote = draft(customer, ("1", "10.00"))
    quotes.delete_draft(ctx, admin, quote.id)
    quote = sent(customer, ("1", "10.00"))
    with pytest.raises(Invalid):
        quotes.delete_draft(ctx, admin, quote.id)
    ctx.rollback()


def test_staff_and_resellers_post_nothing_and_another_resellers_quote_is_not_found(ctx):
    theirs = factories.customer(reseller_id=factories.reseller_id("Reseller B"))
    quote = sent(theirs, ("1", "10.00"))
    for actor in ("staff", "readonly", "reseller_a", "reseller_b"):
        user = factories.user(actor)
        for write in (lambda: quotes.create_draft(ctx, user, theirs.id, {"lines": rows(("1", "1.00")),
                                                                         "expires_on": TODAY.isoformat()}, key()),
                      lambda: quotes.send(ctx, user, quote.id, key()),
                      lambda: quotes.accept(ctx, user, quote.id, key()),
                      lambda: quotes.decline(ctx, user, quote.id, key()),
                      lambda: quotes.extend(ctx, user, quote.id, TODAY.isoformat(), key())):
            with pytest.raises((Forbidden, NotFound)):
                write()
            ctx.rollback()
    with pytest.raises(NotFound):
        quotes.get_quote(ctx, factories.user("reseller_a"), quote.id)
    assert quotes.get_quote(ctx, factories.user("reseller_b"), quote.id).id == quote.id
    assert ctx.scalar(select(func.count(Quote.id))) == 1
    assert quotes.get_quote(ctx, factories.user("admin"), quote.id).status == "sent"


def test_a_customer_with_a_quote_keeps_its_currency_and_is_not_deleted(ctx):
    from app.services.billing.payments import has_money
    from app.services.customers.delete import with_money
    customer = factories.customer()
    draft(customer, ("1", "10.00"))
    assert has_money(ctx, customer.id) and with_money(ctx, [customer.id]) == {customer.id}


ACTIONS = st.lists(st.sampled_from(["accept", "decline", "send", "extend", "delete_invoice"]), min_size=1, max_size=8)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=ACTIONS)
def test_no_sequence_of_accepts_and_declines_makes_two_invoices_for_one_quote(ctx, steps):
    customer = factories.customer()
    admin = factories.user("admin")
    quote = sent(customer, ("2", "7.50"))
    for step in steps:
        try:
            if step == "accept":
                quotes.accept(ctx, admin, quote.id, key())
            elif step == "decline":
                quotes.decline(ctx, admin, quote.id, key())
            elif step == "send":
                quotes.send(ctx, admin, quote.id, key())
            elif step == "extend":
                quotes.extend(ctx, admin, quote.id, (TODAY + timedelta(days=1)).isoformat(), key())
            elif step == "delete_invoice":
                current = quotes.get_quote(ctx, admin, quote.id)
                if current.invoice_id is not None:
                    invoices.delete_draft(ctx, admin, current.invoice_id)
        except (Invalid, AlreadyDone):
            ctx.rollback()
        current = quotes.get_quote(ctx, admin, quote.id)
        linked = ctx.scalars(select(Invoice.id).where(Invoice.customer_id == customer.id)).all()
        assert len(linked) <= 1
        assert (current.status == "accepted") == (current.invoice_id is not None)
        assert linked == ([current.invoice_id] if current.invoice_id else [])
    assert postings() == 0
