"""A number too long for the money columns (30 digits and more) is a field error everywhere it can
be typed, never a 500 (Decimal cannot quantize more digits than its precision)."""
import uuid

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import PriceBook, TaxRate
from app.services import money
from app.services.billing import fx
from app.services.errors import FieldErrors, Invalid
from tests import factories as f

HUGE = ["1" * 30, "9" * 40 + ".5", "-" + "1" * 35, 10 ** 40, "123456789012345678901234567890.12"]


@pytest.mark.parametrize("value", HUGE)
def test_an_amount_too_large_is_said_so(value):
    errors = FieldErrors()
    assert money.amount(errors, "amount", value, "GBP", label="Amount") is None
    assert errors.errors["amount"] == ["Amount is too large."]


@pytest.mark.parametrize("value", HUGE[:2])
def test_a_rate_too_large_is_said_so(ctx, value):
    with pytest.raises(Invalid) as error:
        fx.create_rate(ctx, f.user("admin"), {"from_currency": "EUR", "to_currency": "GBP", "rate": value,
                                              "effective_on": "2026-11-01"})
    assert "too large" in str(error.value.errors["rate"])


def test_the_apis_answer_422_for_a_huge_amount(app, api):
    client = api("admin")
    with app.app_context():
        customer = f.customer().id
        zero = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        book = db.session.scalar(select(PriceBook.id).where(PriceBook.is_default.is_(True)))
    r = client.post("/api/v1/invoice/", json={"customer_id": customer, "key": str(uuid.uuid4()), "lines": [
        {"description": "x", "quantity": "1", "unit_price": "1" * 30, "tax_rate_id": zero}]})
    assert r.status_code == 422, r.json
    r = client.post("/api/v1/fx_rate/", json={"from_currency": "EUR", "to_currency": "GBP", "rate": "1" * 30,
                                              "effective_on": "2026-11-01"})
    assert r.status_code == 422, r.json
    r = client.post("/api/v1/price_book_item/", json={"price_book_id": book, "code": "A", "name": "A",
                                                       "unit_price": "1" * 30, "currency": "GBP"})
    assert r.status_code == 422, r.json
    r = client.post("/api/v1/credit/", json={"customer_id": customer, "amount": "1" * 30, "reason": "x",
                                             "key": str(uuid.uuid4())})
    assert r.status_code == 422, r.json
