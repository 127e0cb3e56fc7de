"""Distances, the business's place, formatting, and the geocoder (against a local HTTP server)."""
import json
import socket
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from app.services import geo
from app.services.geo import GeocodingError, NominatimGeocoder, Place

LONDON = (51.5074, -0.1278)
PARIS = (48.8566, 2.3522)


def test_london_to_paris_is_about_343_km():
    assert geo.distance_km(*LONDON, *PARIS) == pytest.approx(343.5, abs=1)
    assert geo.distance_km(*PARIS, *LONDON) == pytest.approx(geo.distance_km(*LONDON, *PARIS))


def test_same_point_is_zero_and_antipodes_are_half_the_circumference():
    assert geo.distance_km(*LONDON, *LONDON) == 0
    assert geo.distance_km(0, 0, 0, 180) == pytest.approx(20015.1, abs=1)
    assert geo.distance_km(90, 0, -90, 0) == pytest.approx(20015.1, abs=1)
    assert geo.distance_km(51.5, 179.9, 51.5, -179.9) < 20  # across the date line, not around the world


def test_distance_accepts_decimals_and_strings():
    expected = geo.distance_km(*LONDON, *PARIS)
    assert geo.distance_km(Decimal("51.5074"), Decimal("-0.1278"), Decimal("48.8566"), Decimal("2.3522")) == \
        pytest.approx(expected)
    assert geo.distance_km("51.5074", "-0.1278", "48.8566", "2.3522") == pytest.approx(expected)


@pytest.mark.parametrize("config, expected", [
    ({"BUSINESS_LATITUDE": "51.5074", "BUSINESS_LONGITUDE": "-0.1278"}, Place(Decimal("51.5074"), Decimal("-0.1278"))),
    ({"BUSINESS_LATITUDE": 51.5, "BUSINESS_LONGITUDE": -2}, Place(Decimal("51.5"), Decimal(-2))),
    ({"BUSINESS_LATITUDE": " 90 ", "BUSINESS_LONGITUDE": "-180"}, Place(Decimal(90), Decimal(-180))),
])
def test_business_place_from_config(config, expected):
    found = geo.business_place(config)
    assert found == expected
    assert isinstance(found.latitude, Decimal) and isinstance(found.longitude, Decimal)


@pytest.mark.parametrize("config", [
    {},
    {"BUSINESS_LATITUDE": "51.5"},
    {"BUSINESS_LATITUDE": None, "BUSINESS_LONGITUDE": "0"},
    {"BUSINESS_LATITUDE": "", "BUSINESS_LONGITUDE": ""},
    {"BUSINESS_LATITUDE": "north", "BUSINESS_LONGITUDE": "0"},
    {"BUSINESS_LATITUDE": "NaN", "BUSINESS_LONGITUDE": "0"},
    {"BUSINESS_LATITUDE": "Infinity", "BUSINESS_LONGITUDE": "0"},
    {"BUSINESS_LATITUDE": "90.1", "BUSINESS_LONGITUDE": "0"},
    {"BUSINESS_LATITUDE": "0", "BUSINESS_LONGITUDE": "-180.5"},
    {"BUSINESS_LATITUDE": True, "BUSINESS_LONGITUDE": True},
])
def test_business_place_is_none_when_missing_invalid_or_out_of_range(config):
    assert geo.business_place(config) is None


def test_distance_from_business():
    config = {"BUSINESS_LATITUDE": "51.5074", "BUSINESS_LONGITUDE": "-0.1278"}
    assert geo.distance_from(geo.business_place(config), Decimal("48.856600"), Decimal("2.352200")) == pytest.approx(343.5, abs=1)
    assert geo.distance_from(geo.business_place(config), None, None) is None  # an address without coordinates
    assert geo.distance_from(None, *PARIS) is None  # no business place configured


@pytest.mark.parametrize("km, unit, expected", [
    (0, "km", "0 m"),
    (0.35, "km", "350 m"),
    (0.9994, "km", "999 m"),
    (0.9996, "km", "1.0 km"),  # rounds up to a kilometre: not "1000 m"
    (12.34, "km", "12.3 km"),
    (99.94, "km", "99.9 km"),
    (99.96, "km", "100 km"),  # not "100.0 km"
    (1234.4, "km", "1,234 km"),
    (0.35, "mi", "0.2 mi"),
    (12.3, "mi", "7.6 mi"),
    (160.9, "mi", "100 mi"),
    (1234, "mi", "767 mi"),
    (20015, "mi", "12,437 mi"),
])
def test_format_distance(km, unit, expected):
    assert geo.format_distance(km, unit) == expected


def test_format_distance_defaults_to_km_and_rejects_other_units():
    assert geo.format_distance(12.34) == "12.3 km"
    with pytest.raises(ValueError, match="DISTANCE_UNIT"):
        geo.format_distance(1, "furlong")


def test_address_query_skips_empty_parts():
    assert geo.address_query("1 High St", None, "", "Bath", "  ", "BA1 1AA", "GB") == "1 High St, Bath, BA1 1AA, GB"


def test_geocoder_is_off_by_default():
    assert geo.geocoder_for({}) is None
    assert geo.geocoder_for({"GEOCODER": None}) is None
    assert geo.geocoder_for({"GEOCODER": ""}) is None


def test_geocoder_for_nominatim_uses_config_or_defaults():
    config = {"GEOCODER": "nominatim", "GEOCODER_URL": "http://geo.example/", "GEOCODER_USER_AGENT": "x"}
    coder = geo.geocoder_for(config)
    assert isinstance(coder, NominatimGeocoder)
    assert (coder.url, coder.user_agent) == ("http://geo.example", "x")
    coder = geo.geocoder_for({"GEOCODER": "nominatim", "GEOCODER_URL": "", "GEOCODER_USER_AGENT": None})
    assert (coder.url, coder.user_agent) == ("https://nominatim.openstreetmap.org", "customer-back-office")


def test_geocoder_for_an_unknown_name_names_the_setting():
    with pytest.raises(ValueError, match="GEOCODER"):
        geo.geocoder_for({"GEOCODER": "google"})


# A stand-in for Nominatim: the answer depends on the query.
ANSWERS = {
    "found": (200, json.dumps([{"lat": "51.5007292", "lon": "-0.1246254", "display_name": "Big Ben"}])),
    "nowhere": (200, "[]"),
    "broken": (500, "Internal Server Error"),
    "garbage": (200, "<html>not json</html>"),
    "object": (200, '{"error": "Unable to geocode"}'),
    "no coordinates": (200, '[{"display_name": "somewhere"}]'),
}


class FakeNominatim(BaseHTTPRequestHandler):
    requests: ClassVar[list] = []  # (path, query parameters, User-Agent) of each request

    def do_GET(self):
        url = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        FakeNominatim.requests.append((url.path, params, self.headers.get("User-Agent")))
        status, body = ANSWERS.get(params.get("q"), (200, "[]"))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeNominatim)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def nominatim(server_url, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")  # a developer's proxy must not stand in the way
    FakeNominatim.requests.clear()
    return NominatimGeocoder(server_url + "/", "test-agent/1.0", timeout=5)


def test_nominatim_finds_a_place(nominatim):
    assert nominatim.geocode("found") == Place(Decimal("51.5007292"), Decimal("-0.1246254"))
    assert FakeNominatim.requests == [("/search", {"format": "jsonv2", "limit": "1", "q": "found"}, "test-agent/1.0")]


def test_nominatim_sends_the_address_encoded(nominatim):
    assert nominatim.geocode(geo.address_query("1 Rue & Co", None, None, "Paris", None, "75001", "FR")) is None
    assert FakeNominatim.requests[0][1]["q"] == "1 Rue & Co, Paris, 75001, FR"


def test_nominatim_returns_none_when_nothing_is_found(nominatim):
    assert nominatim.geocode("nowhere") is None


@pytest.mark.parametrize("query", ["broken", "garbage", "object", "no coordinates"])
def test_nominatim_errors_and_nonsense_raise_geocoding_error(nominatim, query):
    with pytest.raises(GeocodingError):
        nominatim.geocode(query)


def test_nominatim_unreachable_raises_geocoding_error(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(GeocodingError):
        NominatimGeocoder(f"http://127.0.0.1:{port}", "test-agent/1.0", timeout=2).geocode("found")
