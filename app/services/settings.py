"""Business settings the services need, set once from the app config at start-up."""
from dataclasses import dataclass

from app.services import geo


@dataclass
class Settings:
    base_currency: str = "GBP"
    phone_region: str = "GB"
    files_folder: str | None = None  # where attached files are kept (FILES_FOLDER)
    geocoder: object | None = None  # geo.Geocoder, or None: coordinates only as typed (GEOCODER)
    fx_stale_days: int = 30  # an FX rate older than this on the day it is used is marked stale (FX_STALE_DAYS)


settings = Settings()


def configure(config: dict) -> None:
    settings.base_currency = config.get("BASE_CURRENCY", settings.base_currency)
    settings.phone_region = config.get("DEFAULT_PHONE_REGION", settings.phone_region)
    settings.files_folder = config.get("FILES_FOLDER") or settings.files_folder
    settings.geocoder = geo.geocoder_for(config)
    settings.fx_stale_days = int(config.get("FX_STALE_DAYS", settings.fx_stale_days))
    from app.services.billing import cards  # here: the billing services import this module's users
    cards.configure(config)
