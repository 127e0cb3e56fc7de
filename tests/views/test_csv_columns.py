"""The CSV export's billing address and custom field columns: filled from the customer's
billing address (not a site) and its values, neutralised like the other typed text, and
only for the customers within the user's scope."""
import csv
import io

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Customer
from app.services import csv_export
from app.services import custom_fields as cf
from app.services.customers import addresses
from tests import factories as f

BILLING = ("Billing address line 1", "Billing address line 2", "Billing address line 3", "Billing town",
           "Billing county", "Billing postcode", "Billing country")


def rows_of(response):
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def by_surname(rows):
    return {row["Surname"]: row for row in rows}


@pytest.fixture
def world(app, resellers):
    """Two customers of Reseller A (one with a billing address and a site, one with neither),
    one of Reseller B, a text and a number field with values, and an inactive field."""
    with app.app_context():
        admin = f.user("admin")
        gate = cf.create_field(db.session, admin, {"name": "Gate code", "kind": "text", "position": 1})
        budget = cf.create_field(db.session, admin, {"name": "Budget", "kind": "number", "position": 0})
        old = cf.create_field(db.session, admin, {"name": "Old field", "kind": "text", "position": 2})
        a1 = f.customer(surname="Alder", reseller_id=resellers["Reseller A"]).id
        a2 = f.customer(surname="Birch", reseller_id=resellers["Reseller A"]).id
        b1 = f.customer(surname="Cedar", reseller_id=resellers["Reseller B"]).id
        addresses.create_address(db.session, admin, a1, {
            "line1": "1 High Street", "line2": "Flat 2", "town": "Leeds", "county": "West Yorkshire",
            "postcode": "ls1 1aa", "country": "gb"})
        addresses.create_address(db.session, admin, a1, {"line1": "9 Site Road", "postcode": "LS2 2BB"})
        addresses.create_address(db.session, admin, b1, {"line1": "5 Other Lane", "postcode": "M1 1AA"})
        cf.set_values(db.session, admin, a1, {cf.key_of(gate): "1234#", cf.key_of(budget): "1200.50",
                                              cf.key_of(old): "kept"})
        cf.set_values(db.session, admin, b1, {cf.key_of(gate): "B gate"})
        cf.update_field(db.session, admin, old.id, {"active": False})
        return {"a1": a1, "a2": a2, "b1": b1, "gate": gate.id}


def test_billing_address_and_custom_field_columns_are_filled(app, login, world):
    response = login("admin").get("/customers/export.csv")
    header = next(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert header[-len(BILLING) - 2:] == [*BILLING, "Budget", "Gate code"]  # active fields, by position
    assert "Old field" not in header
    rows = by_surname(rows_of(response))
    assert len(rows_of(response)) == 3  # the site address adds no row
    alder = rows["Alder"]
    assert [alder[h] for h in BILLING] == ["1 High Street", "Flat 2", "", "Leeds", "West Yorkshire",
                                           "LS1 1AA", "GB"]
    assert (alder["Budget"], alder["Gate code"]) == ("1200.5", "1234#")
    assert all(rows["Birch"][h] == "" for h in (*BILLING, "Budget", "Gate code"))
    assert rows["Cedar"]["Billing address line 1"] == "5 Other Lane"
    assert (rows["Cedar"]["Budget"], rows["Cedar"]["Gate code"]) == ("", "B gate")


def test_a_formula_in_a_custom_value_or_an_address_line_is_neutralised(app, login, world):
    formula = '=HYPERLINK("http://evil.example/","Click")'
    with app.app_context():
        admin = f.user("admin")
        cf.set_values(db.session, admin, world["a1"], {f"cf_{world['gate']}": formula})
        addresses.create_address(db.session, admin, world["a2"], {"line1": formula, "line2": "+44 1",
                                                                    "town": "@town", "postcode": "-1"})
    rows = by_surname(rows_of(login("admin").get("/customers/export.csv")))
    assert rows["Alder"]["Gate code"] == "'" + formula
    birch = rows["Birch"]
    assert (birch["Billing address line 1"], birch["Billing address line 2"], birch["Billing town"],
            birch["Billing postcode"]) == ("'" + formula, "'+44 1", "'@town", "'-1")


def test_a_field_named_like_a_formula_is_a_neutralised_header(app, login, world):
    with app.app_context():
        cf.create_field(db.session, f.user("admin"), {"name": "=SUM(A1)", "kind": "text", "position": 9})
    header = next(csv.reader(io.StringIO(login("admin").get("/customers/export.csv")
                                         .get_data(as_text=True).lstrip("\ufeff"))))
    assert header[-1] == "'=SUM(A1)"


def test_a_resellers_export_has_only_its_customers(app, login, world):
    rows = rows_of(login("reseller_a").get("/customers/export.csv"))
    assert sorted(row["Surname"] for row in rows) == ["Alder", "Birch"]
    assert "5 Other Lane" not in {row["Billing address line 1"] for row in rows}
    assert "B gate" not in {row["Gate code"] for row in rows}


def test_a_large_export_joins_the_same_columns(app, world):
    """Over LARGE_EXPORT rows the tags and services are aggregated once; the new columns are
    joined either way, so both statements give the same rows."""
    with app.app_context():
        fields = csv_export.export_fields(db.session)
        base = select(Customer).order_by(Customer.id)
        small, large = (list(db.session.execute(csv_export.customers_statement(base, n, fields)))
                        for n in (1, csv_export.LARGE_EXPORT + 1))
        assert small == large and len(small) == 3
        assert len(small[0]) == len(csv_export.headers(fields))
