"""A date typed into a form is read by the same parser as the API's and the filters' dates."""
from datetime import date

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Customer
from tests import factories as f


def joined_on(app, surname):
    with app.app_context():
        return db.session.scalars(select(Customer.joined_on).where(Customer.surname == surname)).all()


@pytest.mark.parametrize("typed", ["2026-2-3", "3/2/2026", "２０２６-02-03", "2026-02-30"])
def test_a_date_that_is_not_yyyy_mm_dd_is_refused_on_the_customer_form(app, login, typed):
    r = login("admin").form("/customers/add", {"customer_type": "private", "surname": "Dated", "currency": "GBP",
                                               "joined_on": typed})
    assert r.status_code in (200, 422) and "Enter a date as YYYY-MM-DD." in r.get_data(as_text=True)
    assert joined_on(app, "Dated") == []


def test_a_yyyy_mm_dd_date_is_kept_and_shown_again_on_the_edit_form(app, login):
    browser = login("admin")
    r = browser.form("/customers/add", {"customer_type": "private", "surname": "Dated", "currency": "GBP",
                                        "joined_on": "2026-02-03"})
    assert r.status_code == 302, r.get_data(as_text=True)[-600:]
    assert joined_on(app, "Dated") == [date(2026, 2, 3)]
    with app.app_context():
        pk = db.session.scalar(select(Customer.id).where(Customer.surname == "Dated"))
    assert 'value="2026-02-03"' in browser.get(f"/customers/edit/{pk}").get_data(as_text=True)


def test_a_services_start_date_goes_through_the_same_parser(app, login):
    with app.app_context():
        pk = f.customer().id
    r = login("admin").form(f"/services/add?_flt_0_customer={pk}", {"name": "Fibre", "price": "10",
                                                                   "billing_cycle": "monthly", "status": "active",
                                                                   "started_on": "2026-2-3", "customer": str(pk)})
    assert r.status_code in (200, 422) and "Enter a date as YYYY-MM-DD." in r.get_data(as_text=True)
