"""Coordinates are typed, or found by the geocoder when one is configured (off by default);
a geocoder that fails never stops an address being saved."""
from decimal import Decimal

import pytest

from app.services import geo
from app.services.customers import addresses
from app.services.settings import settings
from tests import factories as f


class FakeGeocoder:
    def __init__(self, answer=None, error=False):
        self.answer, self.error, self.queries = answer, error, []

    def geocode(self, query):
        self.queries.append(query)
        if self.error:
            raise geo.GeocodingError("service unavailable")
        return self.answer


@pytest.fixture
def geocoder(monkeypatch):
    def install(**kw):
        fake = FakeGeocoder(**kw)
        monkeypatch.setattr(settings, "geocoder", fake)
        return fake
    return install


def test_without_a_geocoder_an_address_has_only_typed_coordinates(ctx):
    assert settings.geocoder is None  # the default
    c = f.customer()
    a = addresses.create_address(ctx, f.user("admin"), c.id, {"line1": "1 Way", "postcode": "BS1 1AA"})
    assert (a.latitude, a.longitude) == (None, None)


def test_the_geocoder_fills_missing_coordinates(ctx, geocoder):
    fake = geocoder(answer=geo.Place(Decimal("51.4545123"), Decimal("-2.5879456")))
    c = f.customer()
    a = addresses.create_address(ctx, f.user("admin"), c.id, {"line1": "1 Way", "town": "Bristol",
                                                              "postcode": "bs1 1aa"})
    assert (a.latitude, a.longitude) == (Decimal("51.454512"), Decimal("-2.587946"))
    assert fake.queries == ["1 Way, Bristol, BS1 1AA, GB"]
    typed = addresses.create_address(ctx, f.user("admin"), c.id, {"line1": "2 Way", "postcode": "BS1 1AA",
                                                                  "latitude": "51.5", "longitude": "-2.6"})
    assert (typed.latitude, typed.longitude) == (Decimal("51.5"), Decimal("-2.6"))
    assert len(fake.queries) == 1  # typed coordinates are not looked up


def test_a_failing_geocoder_does_not_stop_the_address(ctx, geocoder):
    geocoder(error=True)
    c = f.customer()
    a = addresses.create_address(ctx, f.user("admin"), c.id, {"line1": "1 Way", "postcode": "BS1 1AA"})
    assert a.id is not None and a.latitude is None
