"""Geography for the customer profile: the distance "as the crow flies" from the
business to an address, formatted for people, and an optional geocoder (off by
default) that turns an address into coordinates. Settings come in as a config dict.
"""
import http.client
import json
import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Protocol
from urllib.parse import urlencode
from urllib.request import Request, urlopen

EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)
KM_PER_MILE = 1.609344

Number = Decimal | float | int | str


@dataclass(frozen=True)
class Place:
    """A point on Earth, in decimal degrees."""

    latitude: Decimal
    longitude: Decimal


class GeocodingError(Exception):
    """The geocoding service could not be reached, or its answer could not be read."""


class Geocoder(Protocol):
    def geocode(self, query: str) -> Place | None:
        """The place an address (free text) is at, or None if it is not found."""
        ...


def distance_km(lat1: Number, lon1: Number, lat2: Number, lon2: Number) -> float:
    """The great-circle distance between two points in degrees (haversine formula)."""
    phi1, phi2 = math.radians(float(lat1)), math.radians(float(lat2))
    dphi = phi2 - phi1
    dlambda = math.radians(float(lon2) - float(lon1))
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))  # min: rounding must not pass 1


def _coordinate(value: object, limit: int) -> Decimal | None:
    """`value` (a number or a string) as a Decimal within [-limit, limit], or None if it is not one."""
    try:
        number = Decimal(str(value))  # str(None), "" and str(True) are invalid too
    except InvalidOperation:
        return None
    return number if number.is_finite() and -limit <= number <= limit else None


def place(latitude: object, longitude: object) -> Place | None:
    """A Place from two coordinates (numbers or strings), or None if either is missing or invalid."""
    lat, lon = _coordinate(latitude, 90), _coordinate(longitude, 180)
    return None if lat is None or lon is None else Place(lat, lon)


def business_place(config: dict) -> Place | None:
    """Where the business is (BUSINESS_LATITUDE, BUSINESS_LONGITUDE), or None if not set or invalid."""
    return place(config.get("BUSINESS_LATITUDE"), config.get("BUSINESS_LONGITUDE"))


def distance_from(business: Place | None, latitude: object, longitude: object) -> float | None:
    """Kilometres from the business (services/company.py says where it is) to a point, or None if
    either place is unknown."""
    there = place(latitude, longitude)
    if business is None or there is None:
        return None
    return distance_km(business.latitude, business.longitude, there.latitude, there.longitude)


def format_distance(km: float, unit: str = "km") -> str:
    """A distance for people: "350 m", "12.3 km", "1,234 km"; or "0.2 mi", "7.6 mi", "767 mi"."""
    if unit == "km":
        if round(km * 1000) < 1000:
            return f"{round(km * 1000)} m"
        value = km
    elif unit == "mi":
        value = km / KM_PER_MILE
    else:
        raise ValueError(f"DISTANCE_UNIT must be 'km' or 'mi', not {unit!r}")
    if round(value, 1) < 100:
        return f"{value:.1f} {unit}"
    return f"{round(value):,} {unit}"


def address_query(
    line1: str | None,
    line2: str | None,
    line3: str | None,
    town: str | None,
    county: str | None,
    postcode: str | None,
    country: str | None,
) -> str:
    """An address as one line of text for a geocoder, skipping empty parts."""
    parts = (line1, line2, line3, town, county, postcode, country)
    return ", ".join(p.strip() for p in parts if p and p.strip())


class NominatimGeocoder:
    """Geocoding with a Nominatim server (OpenStreetMap's public one allows at most one
    request a second, with a User-Agent that names the application)."""

    def __init__(self, url: str, user_agent: str, timeout: float = 5) -> None:
        self.url = url.rstrip("/")
        self.user_agent = user_agent
        self.timeout = timeout

    def geocode(self, query: str) -> Place | None:
        """The best match for `query`, or None; GeocodingError if the server fails or answers nonsense."""
        params = urlencode({"format": "jsonv2", "limit": 1, "q": query})
        request = Request(f"{self.url}/search?{params}", headers={"User-Agent": self.user_agent})
        try:
            with urlopen(request, timeout=self.timeout) as response:
                results = json.load(response)
        except (OSError, http.client.HTTPException, ValueError) as e:  # URLError/HTTPError, timeouts, bad JSON
            raise GeocodingError(f"Nominatim at {self.url}: {e}") from e
        if not isinstance(results, list):
            raise GeocodingError(f"Nominatim at {self.url}: expected a list, got {type(results).__name__}")
        if not results:
            return None
        first = results[0]
        found = place(first.get("lat"), first.get("lon")) if isinstance(first, dict) else None
        if found is None:
            raise GeocodingError(f"Nominatim at {self.url}: no valid lat/lon in {first!r:.200}")
        return found


def geocoder_for(config: dict) -> Geocoder | None:
    """The geocoder that GEOCODER names ("nominatim"), or None when it is off (unset or empty)."""
    name = config.get("GEOCODER")
    if not name:
        return None
    if name == "nominatim":
        return NominatimGeocoder(
            config.get("GEOCODER_URL") or "https://nominatim.openstreetmap.org",
            config.get("GEOCODER_USER_AGENT") or "customer-back-office",
        )
    raise ValueError(f"GEOCODER must be empty (off) or 'nominatim', not {name!r}")
