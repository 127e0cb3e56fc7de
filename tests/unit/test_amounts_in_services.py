"""Amounts and numbers typed into the customer services go through the one parser of their kind:
a price through the money module in the customer's currency, coordinates as decimals."""
from decimal import Decimal

import pytest

from app.services.customers.addresses import create_address
from app.services.customers.services import create_service
from app.services.errors import Invalid
from tests import factories as f


def test_a_price_is_read_in_the_customers_currency(ctx):
    yen, pounds = f.customer(currency="JPY").id, f.customer(currency="GBP").id
    with pytest.raises(Invalid) as refused:
        create_service(ctx, f.user("admin"), yen, {"name": "Hosting", "price": "12.50"})
    assert refused.value.errors == {"price": ["Price can have no decimals in JPY."]}
    ctx.rollback()
    assert create_service(ctx, f.user("admin"), yen, {"name": "Hosting", "price": "1,200"}).price == Decimal("1200")
    assert create_service(ctx, f.user("admin"), pounds, {"name": "Fibre", "price": "1,200.5"}).price == \
        Decimal("1200.50")


@pytest.mark.parametrize("latitude", ["NaN", "Infinity", "1e1", "٣", "51,5"])
def test_a_coordinate_is_a_plain_decimal_number(ctx, latitude):
    customer = f.customer().id
    with pytest.raises(Invalid) as refused:
        create_address(ctx, f.user("admin"), customer, {"line1": "1 High Street", "postcode": "SW1A 1AA",
                                                        "latitude": latitude, "longitude": "0"})
    assert list(refused.value.errors) == ["latitude"]


def test_a_coordinate_sent_as_a_json_number_is_kept_to_six_places(ctx):
    customer = f.customer().id
    address = create_address(ctx, f.user("admin"), customer, {"line1": "1 High Street", "postcode": "SW1A 1AA",
                                                               "latitude": 51.5074, "longitude": -0.1278})
    assert (address.latitude, address.longitude) == (Decimal("51.507400"), Decimal("-0.127800"))
