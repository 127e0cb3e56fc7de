"""A service's billing fields (issue 17): its price in its customer's currency, next billing date and
billing day, tax rate, and the end date a cancelled service carries; a currency change that a price
cannot follow is refused."""
import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, Customer, CustomerService, InvoiceLine, ServicePeriod, TaxRate
from app.services.billing import invoices
from app.services.customers.bulk import start_bulk_action
from app.services.customers.services import create_service, update_service
from app.services.customers.update import update_customer
from app.services.errors import Invalid
from tests import factories as f


def _refused(call, *args) -> dict:
    with pytest.raises(Invalid) as e:
        call(*args)
    db.session.rollback()
    return e.value.errors


@pytest.mark.parametrize("currency, price, kept", [("BHD", "12.345", "12.345"), ("JPY", "1,200", "1200"),
                                                   ("GBP", "9.99", "9.99")])
def test_a_price_keeps_as_many_decimals_as_its_customers_currency_has(ctx, currency, price, kept):
    customer = f.customer(currency=currency).id
    service = create_service(ctx, f.user("admin"), customer, {"name": "Hosting", "price": price})
    assert ctx.get(CustomerService, service.id).price == Decimal(kept)


@pytest.mark.parametrize("currency, price, words", [("BHD", "12.3456", "at most 3 decimals in BHD"),
                                                    ("JPY", "12.5", "no decimals in JPY"),
                                                    ("GBP", "1.005", "at most 2 decimals in GBP")])
def test_a_price_with_more_decimals_than_its_currency_is_refused_naming_the_currency(ctx, currency, price, words):
    customer = f.customer(currency=currency).id
    errors = _refused(create_service, ctx, f.user("admin"), customer, {"name": "Hosting", "price": price})
    assert words in " ".join(errors["price"])
    assert ctx.scalar(select(CustomerService.id)) is None


def test_a_currency_change_keeps_the_prices_numbers_and_refuses_one_the_new_currency_cannot_hold(ctx):
    customer = f.customer(currency="GBP").id
    whole = create_service(ctx, f.user("admin"), customer, {"name": "Hosting", "price": "12.00"}).id
    update_customer(ctx, f.user("admin"), customer, {"currency": "JPY"})
    assert ctx.get(CustomerService, whole).price == Decimal("12")
    create_service(ctx, f.user("admin"), customer, {"name": "Fibre", "price": "1200"})
    update_customer(ctx, f.user("admin"), customer, {"currency": "BHD"})
    update_service(ctx, f.user("admin"), whole, {"price": "12.125"})
    errors = _refused(update_customer, ctx, f.user("admin"), customer, {"currency": "GBP"})
    assert errors["currency"] == ["The service Hosting costs 12.125, which GBP cannot hold (at most 2 decimals): "
                                  "change its price first."]
    assert ctx.get(CustomerService, whole).customer.currency == "BHD"


def test_a_bulk_currency_change_leaves_a_customer_whose_prices_do_not_fit_alone(ctx):
    fits, misfit = f.customer(currency="GBP").id, f.customer(currency="GBP").id
    create_service(ctx, f.user("admin"), fits, {"name": "Hosting", "price": "12"})
    create_service(ctx, f.user("admin"), misfit, {"name": "Hosting", "price": "12.50"})
    job = start_bulk_action(ctx, f.user("admin"), "edit", {"currency": "JPY"}, str(uuid.uuid4()), ids=[fits, misfit])
    assert job.result["changed"] == 1
    assert list(job.result["skipped"]) == ["a service's price has more decimals than JPY has"]
    ctx.expire_all()
    assert [ctx.get(Customer, c).currency for c in (fits, misfit)] == ["JPY", "GBP"]


def test_a_new_service_is_billed_from_its_start_on_the_day_of_the_month_it_started(ctx):
    customer = f.customer().id
    service = create_service(ctx, f.user("admin"), customer, {"name": "Fibre", "price": "30",
                                                              "started_on": "2027-01-31"})
    assert (service.next_billing_on, service.billing_day) == (date(2027, 1, 31), 31)
    other = create_service(ctx, f.user("admin"), customer, {"name": "Hosting", "price": "5", "started_on": "2027-01-10",
                                                            "next_billing_on": "2027-02-01"})
    assert (other.next_billing_on, other.billing_day) == (date(2027, 2, 1), 1)


def test_moving_the_next_billing_date_moves_the_billing_day_and_is_audited(ctx):
    customer = f.customer().id
    service = create_service(ctx, f.user("admin"), customer, {"name": "Fibre", "price": "30",
                                                              "started_on": "2027-01-31"})
    update_service(ctx, f.user("admin"), service.id, {"next_billing_on": "2027-03-15"})
    assert (service.next_billing_on, service.billing_day) == (date(2027, 3, 15), 15)
    update_service(ctx, f.user("admin"), service.id, {"name": "Fibre 900"})
    assert (service.next_billing_on, service.billing_day) == (date(2027, 3, 15), 15)
    changes = ctx.scalars(select(AuditEntry.changes).where(AuditEntry.entity == "service", AuditEntry.action == "update")
                          .order_by(AuditEntry.id)).first()
    assert changes["next_billing_on"] == ["2027-01-31", "2027-03-15"] and changes["billing_day"] == [31, 15]


def test_a_next_billing_date_before_the_start_or_within_a_billed_period_is_refused(ctx):
    customer = f.customer().id
    service = create_service(ctx, f.user("admin"), customer, {"name": "Fibre", "price": "30",
                                                              "started_on": "2027-01-01"}).id
    assert "before the start date" in _refused(update_service, ctx, f.user("admin"), service,
                                               {"next_billing_on": "2026-12-01"})["next_billing_on"][0]
    ctx.add(ServicePeriod(service_id=service, starts_on=date(2027, 1, 1), ends_on=date(2027, 1, 31),
                          amount=Decimal("30")))
    ctx.commit()
    errors = _refused(update_service, ctx, f.user("admin"), service, {"next_billing_on": "2027-01-31"})
    assert errors == {"next_billing_on": ["Billed up to 31 Jan 2027: the next billing date must be after it."]}
    update_service(ctx, f.user("admin"), service, {"next_billing_on": "2027-02-01"})


def test_a_service_is_taxed_at_a_rate_of_its_own_or_the_default(ctx):
    customer = f.customer().id
    reduced = ctx.scalar(select(TaxRate.id).where(TaxRate.name == "Reduced rate"))
    service = create_service(ctx, f.user("admin"), customer, {"name": "Fibre", "price": "30", "tax_rate_id": reduced})
    assert service.tax_rate_id == reduced
    update_service(ctx, f.user("admin"), service.id, {"tax_rate_id": ""})
    assert service.tax_rate_id is None
    assert _refused(update_service, ctx, f.user("admin"), service.id, {"tax_rate_id": "999999"}) == {
        "tax_rate_id": ["Pick a tax rate from the list."]}


def test_cancelling_a_service_sets_its_end_and_uncancelling_clears_it(ctx):
    customer = f.customer().id
    service = create_service(ctx, f.user("admin"), customer, {"name": "Fibre", "price": "30",
                                                              "started_on": "2027-01-10"}).id
    update_service(ctx, f.user("admin"), service, {"status": "cancelled"})
    assert ctx.get(CustomerService, service).ends_on == max(date.today(), date(2027, 1, 10))
    update_service(ctx, f.user("admin"), service, {"status": "cancelled", "ends_on": "2027-02-20"})
    assert ctx.get(CustomerService, service).ends_on == date(2027, 2, 20)
    assert _refused(update_service, ctx, f.user("admin"), service, {"ends_on": "2027-01-09"}) == {
        "ends_on": ["A service cannot end before it started (10 Jan 2027)."]}
    update_service(ctx, f.user("admin"), service, {"status": "active", "ends_on": "2027-02-20"})
    assert ctx.get(CustomerService, service).ends_on is None
    changes = ctx.scalars(select(AuditEntry.changes).where(AuditEntry.entity == "service", AuditEntry.action == "update")
                          .order_by(AuditEntry.id.desc())).first()
    assert changes["ends_on"] == ["2027-02-20", None] and changes["status"] == ["cancelled", "active"]


def _invoice_for(customer_id) -> int:
    admin = f.user("admin")
    zero = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
    draft = invoices.create_draft(db.session, admin, customer_id, {
        "issue_date": "2027-01-01", "lines": [{"description": "Fibre", "quantity": 1, "unit_price": "30",
                                               "tax_rate_id": zero}]}, str(uuid.uuid4()))
    return invoices.issue(db.session, admin, draft.id, str(uuid.uuid4())).id


def test_the_profile_lists_each_services_last_invoice(ctx):
    from app.services.customers import profile
    customer = f.customer().id
    billed = create_service(ctx, f.user("admin"), customer, {"name": "Fibre", "price": "30",
                                                             "started_on": "2027-01-01"}).id
    create_service(ctx, f.user("admin"), customer, {"name": "Hosting", "price": "5"})
    first, second = _invoice_for(customer), _invoice_for(customer)
    for start, end, invoice in ((date(2027, 1, 1), date(2027, 1, 31), first), (date(2027, 2, 1), date(2027, 2, 28), second),
                                (date(2027, 3, 1), date(2027, 3, 31), None)):
        ctx.add(ServicePeriod(service_id=billed, starts_on=start, ends_on=end, amount=Decimal("30"), invoice_id=invoice))
    ctx.commit()
    rows = {row.service.name: row for row in profile.services(ctx, f.user("admin"), customer)}
    assert (rows["Fibre"].last_invoice_id, rows["Fibre"].last_invoice_number) == (second, "INV-2")
    assert rows["Hosting"].last_invoice_id is None


def _pro_rata(on: bool) -> None:
    from app.models import CompanySettings
    db.session.merge(CompanySettings(id=1, billing_pro_rata=on))
    db.session.commit()


def test_with_pro_rata_a_new_service_joins_the_customers_billing_day_and_its_first_part_period_is_billed(ctx):
    from flask import current_app

    from app.services.billing import recurring
    _pro_rata(True)
    customer = f.customer().id
    create_service(ctx, f.user("admin"), customer, {"name": "Broadband", "price": "31.00",
                                                    "started_on": "2026-11-01", "next_billing_on": "2027-02-01"})
    joined = create_service(ctx, f.user("admin"), customer, {"name": "Static IP", "price": "31.00",
                                                             "started_on": "2027-01-15"})
    assert (joined.next_billing_on, joined.billing_day) == (date(2027, 1, 1), 1)
    recurring.run(ctx, date(2027, 1, 20), "test", current_app.config)
    quantity, description = ctx.execute(select(InvoiceLine.quantity, InvoiceLine.description)
                                        .where(InvoiceLine.description.like("Static IP%"))).one()
    assert quantity == Decimal("0.5484") and "15" in description and "31 Jan 2027" in description  # 17 of 31 days
    assert ctx.get(CustomerService, joined.id).next_billing_on == date(2027, 2, 1)


def test_without_pro_rata_a_new_service_bills_from_its_own_start(ctx):
    _pro_rata(False)
    customer = f.customer().id
    create_service(ctx, f.user("admin"), customer, {"name": "Broadband", "price": "31.00",
                                                    "started_on": "2026-11-01", "next_billing_on": "2027-02-01"})
    own = create_service(ctx, f.user("admin"), customer, {"name": "Static IP", "price": "31.00",
                                                          "started_on": "2027-01-15"})
    assert (own.next_billing_on, own.billing_day) == (date(2027, 1, 15), 15)


def test_a_next_billing_date_before_the_start_is_taken_only_when_its_period_includes_the_start(ctx):
    customer = f.customer().id
    taken = create_service(ctx, f.user("admin"), customer, {"name": "Fibre", "price": "10.00", "billing_cycle":
                                                            "quarterly", "started_on": "2027-02-10",
                                                            "next_billing_on": "2027-01-01"})
    assert (taken.next_billing_on, taken.billing_day) == (date(2027, 1, 1), 1)
    errors = _refused(create_service, ctx, f.user("admin"), customer, {
        "name": "Fibre", "price": "10.00", "started_on": "2027-02-10", "next_billing_on": "2027-01-01"})
    assert "period" in " ".join(errors["next_billing_on"])  # a month from 1 Jan ends before 10 Feb
    errors = _refused(create_service, ctx, f.user("admin"), customer, {
        "name": "Kit", "price": "10.00", "billing_cycle": "one-off", "started_on": "2027-02-10",
        "next_billing_on": "2027-01-01"})
    assert "before the start date" in " ".join(errors["next_billing_on"])
