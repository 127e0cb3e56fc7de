"""The side panel's money (issue 4): balance, account credit, annual value and the age of the
oldest debt. Until billing exists there are no invoices: balance as kept, the rest nothing."""
from decimal import Decimal

from app.models import Customer
from app.services.customers import profile
from tests import factories as f


def test_money_is_zero_and_there_is_no_debt_age_without_invoices(ctx):
    c = f.customer()
    s = profile.summary(ctx, f.user("admin"), c.id, {})
    assert (s.balance, s.credit, s.annual_value, s.debt_days) == (Decimal("0.00"), Decimal("0.00"),
                                                                  Decimal("0.00"), None)
    assert s.distance_km is None and s.billing is None and s.counts["notes"] == 0


def test_the_balance_is_the_customers_and_the_distance_needs_both_places(ctx):
    from app.services.customers import addresses
    c = f.customer()
    ctx.get(Customer, c.id).balance = Decimal("12.50")
    ctx.commit()
    addresses.create_address(ctx, f.user("admin"), c.id, {"line1": "1 Way", "postcode": "BS1 1AA",
                                                          "latitude": "51.4545", "longitude": "-2.5879"})
    s = profile.summary(ctx, f.user("admin"), c.id, {})
    assert s.balance == Decimal("12.50") and s.distance_km is None
    s = profile.summary(ctx, f.user("admin"), c.id, {"BUSINESS_LATITUDE": "51.5074", "BUSINESS_LONGITUDE": "-0.1278"})
    assert 169 < s.distance_km < 172  # Bristol to London
