"""The company's settings that admins change in the browser: the time zone people read times in,
and where the business is (for the customer page's distance).

A field left empty falls back to the app's configuration (TIME_ZONE, BUSINESS_LATITUDE,
BUSINESS_LONGITUDE, BUSINESS_ADDRESS), so a new installation works before anyone sets them.
Times are stored in UTC everywhere; `local` turns one into the company's time for showing.
"""
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy.orm import Session

from app.models import CompanySettings
from app.services import fields, geo, permissions
from app.services.db import commit
from app.services.errors import FieldErrors
from app.services.transaction_cache import remembered

VIEW = "CompanySettingsView"
FIELDS = ("time_zone", "business_address", "business_latitude", "business_longitude")
DEFAULT_TIME_ZONE = "UTC"


@dataclass(frozen=True)
class Company:
    time_zone: ZoneInfo
    business_address: str | None
    business: geo.Place | None  # None: the page shows no distance

    @property
    def time_zone_name(self) -> str:
        return self.time_zone.key


def time_zones() -> list[str]:
    """Every IANA time zone this system knows, sorted ("Europe/London"...)."""
    return sorted(available_timezones())


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIME_ZONE)


def stored(session: Session) -> CompanySettings:
    """The settings row (not added to the session when there is none yet)."""
    return session.get(CompanySettings, 1) or CompanySettings(id=1)


def read(session: Session, config: dict) -> Company:
    """The settings in force: what an admin saved, else the configuration (read once a transaction)."""
    defaults = tuple(config.get(k) for k in ("TIME_ZONE", "BUSINESS_LATITUDE", "BUSINESS_LONGITUDE", "BUSINESS_ADDRESS"))
    return remembered(session, ("company", defaults), lambda: _read(session, config))


def _read(session: Session, config: dict) -> Company:
    row = session.get(CompanySettings, 1)
    zone = (row and row.time_zone) or config.get("TIME_ZONE")
    if row is not None and row.business_latitude is not None and row.business_longitude is not None:
        business = geo.place(row.business_latitude, row.business_longitude)
    else:
        business = geo.business_place(config)
    return Company(time_zone=_zone(zone), business=business,
                   business_address=(row and row.business_address) or config.get("BUSINESS_ADDRESS") or None)


def local(moment: datetime, zone: ZoneInfo) -> datetime:
    """A stored time (UTC; naive from SQLite) in the company's time zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone)


def _clean(data: dict) -> dict:
    errors = FieldErrors()
    for key in data:
        if key not in FIELDS:
            errors.add(key, "Unknown field.")
    zone = fields.text(errors, "time_zone", data.get("time_zone"), 64, label="Time zone")
    if zone is not None and zone not in available_timezones():
        errors.add("time_zone", f"{zone} is not a time zone: pick one from the list, e.g. Europe/London.")
    values = dict(
        time_zone=zone,
        business_address=fields.text(errors, "business_address", data.get("business_address"), 255,
                                     label="Business address"),
        business_latitude=fields.coordinate(errors, "business_latitude", data.get("business_latitude"), 90),
        business_longitude=fields.coordinate(errors, "business_longitude", data.get("business_longitude"), 180),
    )
    if (values["business_latitude"] is None) != (values["business_longitude"] is None) and not (
            "business_latitude" in errors or "business_longitude" in errors):
        missing = "business_longitude" if values["business_longitude"] is None else "business_latitude"
        errors.add(missing, "Give both latitude and longitude, or neither.")
    errors.raise_if_any()
    return values


def _geocoded(values: dict, geocoder) -> dict:
    """Coordinates for the address from the geocoder (when one is configured) if none were typed."""
    if geocoder is None or not values["business_address"] or values["business_latitude"] is not None:
        return values
    try:
        found = geocoder.geocode(values["business_address"])
    except geo.GeocodingError:
        found = None
    if found is None:
        errors = FieldErrors()
        errors.add("business_address", "Could not find this address on the map: type its latitude and longitude.")
        errors.raise_if_any()
    values["business_latitude"] = Decimal(found.latitude).quantize(Decimal("0.000001"))
    values["business_longitude"] = Decimal(found.longitude).quantize(Decimal("0.000001"))
    return values


def update(session: Session, actor, data: dict, *, geocoder=None) -> list[str]:
    """Save the settings (Admin: can_edit on the settings screen); the fields that changed. Saving the
    same values again (a double submit) changes nothing."""
    permissions.require(session, actor, ("can_edit", VIEW), message="Only an admin may change the company settings.")
    values = _geocoded(_clean(data), geocoder)
    row = session.get(CompanySettings, 1)
    if row is None:
        row = CompanySettings(id=1)
        session.add(row)
    changed = [key for key, value in values.items() if getattr(row, key) != value]
    for key in changed:
        setattr(row, key, values[key])
    commit(session)
    return changed
