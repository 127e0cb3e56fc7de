"""Additional invoice addresses (an insurer, a landlord): shared between a reseller's customers, never seen
or used across resellers; a customer's or one draft invoice's choice addresses its documents; an issued
invoice or credit note keeps the address it was issued with; deleting one says what uses it and is
refused while an open invoice does."""
import uuid

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, Customer, Invoice, InvoiceAddress, PaymentMethod, TaxRate
from app.services.billing import credit_notes, documents, invoice_addresses as addresses, invoices, payments
from app.services.customers.addresses import create_address, update_address
from app.services.errors import Forbidden, Invalid, NotFound
from tests import factories
from tests.roles import role_user

INSURER = {"name": "Acme Insurance", "contact_name": "Claims Dept", "line1": "1 Policy Road", "town": "York",
           "postcode": "yo1 1aa", "country": "gb", "email": "claims@example.com"}


def key():
    return str(uuid.uuid4())


def rows(amount="100"):
    rate = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
    return [{"description": "Repair", "quantity": "1", "unit_price": amount, "tax_rate_id": rate,
             "category": "labour"}]


def customer_with_address(actor="admin"):
    c = factories.customer(actor)
    create_address(db.session, factories.user("admin"), c.id, {"kind": "billing", "line1": "9 Home Lane",
                                                                "town": "Leeds", "postcode": "LS1 1AA"})
    return c


def draft(customer):
    return invoices.create_draft(db.session, factories.user("finance"), customer.id, {"lines": rows()}, key())


def add(actor="admin", **data):
    return addresses.add(db.session, factories.user(actor), {**INSURER, **data})


def test_an_address_is_added_cleaned_and_reads_as_its_lines(ctx):
    address = add()
    assert (address.postcode, address.country, address.reseller_id) == ("YO1 1AA", "GB", None)
    assert address.text == "Acme Insurance\nClaims Dept\n1 Policy Road\nYork\nYO1 1AA\nGB"
    with pytest.raises(Invalid) as caught:
        addresses.add(ctx, factories.user("admin"), {"name": " ", "line1": "", "email": "nope", "colour": "red"})
    assert {"name", "line1", "email", "colour"} <= set(caught.value.errors)


@pytest.fixture
def posting_resellers(app, ctx):
    """Reseller A's and B's users who may also post money (an admin gives it them): "afinance", "bfinance"."""
    post = [("can_post_money", "InvoiceView")]
    with role_user(app, ctx, "AFinance", "Reseller", post, factories.reseller_id("Reseller A")), \
            role_user(app, ctx, "BFinance", "Reseller", post, factories.reseller_id("Reseller B")):
        yield


def test_a_resellers_address_is_its_own_and_never_seen_or_used_by_another(ctx, posting_resellers):
    a_address, b_address = add("afinance"), add("bfinance", name="Beta Insurance")
    company = add("admin", name="Company Insurer")
    assert (a_address.reseller_id, b_address.reseller_id) == (factories.reseller_id("Reseller A"),
                                                              factories.reseller_id("Reseller B"))
    reseller_a = factories.user("afinance")
    assert [a.id for a in addresses.search(ctx, reseller_a)] == [a_address.id]
    assert addresses.search(ctx, reseller_a, "beta") == []
    assert {a.id for a in addresses.search(ctx, factories.user("admin"), "insur")} == \
        {a_address.id, b_address.id, company.id}
    for other in (b_address, company):
        with pytest.raises(NotFound):
            addresses.get(ctx, reseller_a, other.id)
        with pytest.raises(NotFound):
            addresses.edit(ctx, reseller_a, other.id, {"name": "Mine now"})
        with pytest.raises(NotFound):
            addresses.delete(ctx, reseller_a, other.id)
    mine = customer_with_address("reseller_a")
    with pytest.raises(NotFound):
        addresses.choose_for_customer(ctx, reseller_a, mine.id, b_address.id)
    with pytest.raises(NotFound):  # another reseller's customer
        addresses.choose_for_customer(ctx, factories.user("bfinance"), mine.id, b_address.id)
    with pytest.raises(Invalid):  # a reseller may not make one for another reseller
        add("afinance", reseller_id=factories.reseller_id("Reseller B"))
    with pytest.raises(NotFound):
        addresses.search(ctx, factories.user("reseller_b"), customer_id=mine.id)


def test_a_customer_uses_only_an_address_of_its_own_reseller(ctx):
    admin = factories.user("admin")
    mine = customer_with_address("reseller_a")
    company, theirs = add("admin"), add("admin", reseller_id=factories.reseller_id("Reseller B"))
    ours = add("admin", name="A's insurer", reseller_id=factories.reseller_id("Reseller A"))
    for wrong in (company, theirs):
        with pytest.raises(Invalid) as caught:
            addresses.choose_for_customer(ctx, admin, mine.id, wrong.id)
        assert "invoice_address_id" in caught.value.errors
    assert [a.id for a in addresses.search(ctx, admin, customer_id=mine.id)] == [ours.id]
    assert addresses.choose_for_customer(ctx, admin, mine.id, ours.id).invoice_address_id == ours.id
    changes = ctx.scalars(select(AuditEntry.changes).where(AuditEntry.entity == "customer",
                                                          AuditEntry.entity_id == mine.id)).all()
    assert any("invoice_address_id" in change for change in changes)


def test_who_may_change_addresses(ctx):
    """Who posts money (the Invoice settings screen's rule); who only sees customers reads them."""
    c = customer_with_address()
    address = add("finance")
    for reader in ("readonly", "staff", "reseller_a"):
        with pytest.raises(Forbidden):
            add(reader)
    for reader in ("readonly", "staff"):
        with pytest.raises(Forbidden):
            addresses.edit(ctx, factories.user(reader), address.id, {"name": "Changed"})
    with pytest.raises(Forbidden):
        add("readonly")
    with pytest.raises(Forbidden):
        addresses.choose_for_customer(ctx, factories.user("readonly"), c.id, address.id)
    with pytest.raises(Forbidden):
        addresses.delete(ctx, factories.user("staff"), address.id)
    invoice = draft(c)
    with pytest.raises(Forbidden):
        addresses.choose_for_invoice(ctx, factories.user("staff"), invoice.id, address.id)
    assert [a.id for a in addresses.search(ctx, factories.user("readonly"), "acme")] == [address.id]


def test_the_chosen_address_addresses_drafts_and_the_issued_invoice_keeps_it(ctx, app):
    c = customer_with_address()
    invoice = draft(c)
    assert invoices.billing_address(ctx, c, invoice).startswith(c.name + "\n9 Home Lane")
    insurer = add()
    addresses.choose_for_customer(ctx, factories.user("finance"), c.id, insurer.id)
    assert documents.document(ctx, invoice, app.config)["invoice"]["billing_address"][:2] == \
        ["Acme Insurance", "Claims Dept"]
    issued = invoices.issue(ctx, factories.user("finance"), invoice.id, key())
    assert issued.billing_address == insurer.text
    addresses.edit(ctx, factories.user("admin"), insurer.id, {"name": "Acme Mutual"})
    addresses.choose_for_customer(ctx, factories.user("finance"), c.id, None)
    ctx.refresh(issued)
    assert issued.billing_address.startswith("Acme Insurance\n")  # the snapshot, not the address now
    assert documents.document(ctx, issued, app.config)["invoice"]["billing_address"][0] == "Acme Insurance"
    # ...and a credit note of that invoice goes to whom the invoice was made out to: the insurer (the
    # invoice recorded it when issued, though it came from the customer's choice, since withdrawn), as
    # the insurer reads now.
    assert issued.invoice_address_id == insurer.id
    note = credit_notes.create(ctx, factories.user("finance"), {"lines": rows("10"), "description": "Goodwill"},
                               key(), invoice_id=issued.id)
    ctx.refresh(insurer)
    assert note.billing_address == insurer.text and note.billing_address.startswith("Acme Mutual\n")


def test_an_invoice_of_its_own_wins_over_the_customers_choice_and_only_on_a_draft(ctx, app):
    c = customer_with_address()
    landlord, insurer = add(name="Mr Landlord"), add()
    addresses.choose_for_customer(ctx, factories.user("finance"), c.id, landlord.id)
    invoice = draft(c)
    addresses.choose_for_invoice(ctx, factories.user("finance"), invoice.id, insurer.id)
    assert invoices.billing_address(ctx, c, invoice) == insurer.text
    assert invoices.billing_address(ctx, c) == landlord.text
    issued = invoices.issue(ctx, factories.user("finance"), invoice.id, key())
    assert issued.billing_address == insurer.text
    with pytest.raises(Invalid):
        addresses.choose_for_invoice(ctx, factories.user("finance"), issued.id, None)
    note = credit_notes.create(ctx, factories.user("finance"), {"lines": rows("10"), "description": "Goodwill"},
                               key(), invoice_id=issued.id)
    assert note.billing_address == insurer.text  # the credited invoice's own address


def test_a_draft_follows_the_customers_address_and_format_until_issued(ctx):
    c = customer_with_address()
    invoice = draft(c)
    billing = c.addresses[0]
    update_address(ctx, factories.user("admin"), billing.id, {"town": "Bradford"})
    assert "Bradford" in invoices.billing_address(ctx, c, invoice)
    issued = invoices.issue(ctx, factories.user("finance"), invoice.id, key())
    update_address(ctx, factories.user("admin"), billing.id, {"town": "Hull"})
    ctx.refresh(issued)
    assert "Bradford" in issued.billing_address and "Hull" not in issued.billing_address


def test_delete_says_what_uses_it_and_is_refused_while_an_open_invoice_does(ctx):
    first, second = customer_with_address(), customer_with_address()
    insurer = add()
    finance = factories.user("finance")
    for c in (first, second):
        addresses.choose_for_customer(ctx, finance, c.id, insurer.id)
    invoice = draft(first)  # a draft of a customer that chose it uses it
    usage = addresses.usage(ctx, finance, insurer.id)
    assert (usage.customers, usage.open_invoices) == (2, 1)
    assert usage.message.startswith("Used by 2 customers.")
    with pytest.raises(Invalid) as caught:
        addresses.delete(ctx, finance, insurer.id)
    assert "1 open invoice uses it" in caught.value.messages
    issued = invoices.issue(ctx, finance, invoice.id, key())  # issued, unpaid: still open
    assert issued.invoice_address_id == insurer.id  # made out to it (the customer's choice), recorded
    with pytest.raises(Invalid):
        addresses.delete(ctx, finance, insurer.id)
    cash = ctx.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))
    payments.record_payment(ctx, finance, issued.id, {"amount": "100", "method_id": cash}, key())
    assert addresses.delete(ctx, finance, insurer.id).customers == 2
    assert ctx.get(InvoiceAddress, insurer.id) is None
    assert ctx.scalars(select(Customer.invoice_address_id).where(Customer.id.in_([first.id, second.id]))).all() \
        == [None, None]
    ctx.refresh(issued)
    assert issued.billing_address.startswith("Acme Insurance") and issued.invoice_address_id is None  # unlinked


def test_an_invoice_naming_it_itself_keeps_it_from_being_deleted(ctx):
    c = customer_with_address()
    insurer = add()
    invoice = draft(c)
    addresses.choose_for_invoice(ctx, factories.user("finance"), invoice.id, insurer.id)
    assert addresses.usage(ctx, factories.user("admin"), insurer.id).open_invoices == 1
    with pytest.raises(Invalid):
        addresses.delete(ctx, factories.user("admin"), insurer.id)
    invoices.delete_draft(ctx, factories.user("finance"), invoice.id)
    addresses.delete(ctx, factories.user("admin"), insurer.id)
    assert ctx.scalar(select(Invoice.id).where(Invoice.invoice_address_id == insurer.id)) is None


def test_a_customer_moved_to_another_reseller_leaves_its_old_resellers_address(ctx, posting_resellers):
    from app.services.customers.update import update_customer
    c = customer_with_address("reseller_a")
    ours = add("afinance")
    addresses.choose_for_customer(ctx, factories.user("afinance"), c.id, ours.id)
    invoice = draft(c)
    addresses.choose_for_invoice(ctx, factories.user("finance"), invoice.id, ours.id)
    update_customer(ctx, factories.user("admin"), c.id, {"reseller_id": factories.reseller_id("Reseller B")})
    ctx.refresh(c)
    assert c.invoice_address_id is None
    assert invoices.billing_address(ctx, c, invoice).startswith(c.name + "\n9 Home Lane")  # not A's address

    issued = invoices.issue(ctx, factories.user("finance"), invoice.id, key())
    assert issued.invoice_address_id is None  # made out to the customer: A's address is not recorded


def test_an_issued_invoice_records_whom_it_was_made_out_to(ctx):
    c = customer_with_address()
    own = invoices.issue(ctx, factories.user("finance"), draft(c).id, key())
    assert own.invoice_address_id is None and own.billing_address.startswith(c.name)
    insurer = add()
    addresses.choose_for_customer(ctx, factories.user("finance"), c.id, insurer.id)
    chosen = draft(c)
    assert chosen.invoice_address_id is None  # a draft follows the customer's choice until issued
    assert invoices.addressee(ctx, c, chosen).id == insurer.id
    chosen = invoices.issue(ctx, factories.user("finance"), chosen.id, key())
    assert chosen.invoice_address_id == insurer.id and chosen.billing_address == insurer.text
