"""Amounts on pages are shown in their own currency, through the money module."""
from decimal import Decimal

from app.extensions import db
from app.models import Customer
from app.services.customers import services
from tests import factories as f


def test_the_lists_balance_column_shows_each_customers_balance_in_its_own_currency(app, login):
    with app.app_context():
        for surname, currency, balance in (("Yen", "JPY", "1234.50"), ("Pound", "GBP", "12.5"),
                                           ("Dinar", "BHD", "7.25")):
            customer = f.customer(surname=surname, currency=currency)
            db.session.query(Customer).filter_by(id=customer.id).update({"balance": Decimal(balance)})
        db.session.commit()
    html = login("admin").get("/customers/list/").get_data(as_text=True).replace("\xa0", "")
    for shown in ("JP¥1,235", "£12.50", "BHD7.250"):
        assert shown in html


def test_the_services_list_shows_each_price_in_its_customers_currency(app, login):
    with app.app_context():
        for surname, currency, price in (("Yen", "JPY", "1200"), ("Pound", "GBP", "12.5")):
            customer = f.customer(surname=surname, currency=currency)
            services.create_service(db.session, f.user("admin"), customer.id,
                                 {"name": f"Broadband {surname}", "price": price, "billing_cycle": "monthly"})
    html = login("admin").get("/services/list/").get_data(as_text=True).replace("\xa0", "")
    for shown in ("JP¥1,200", "£12.50"):
        assert shown in html
