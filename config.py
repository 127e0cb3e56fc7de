"""Configuration from environment variables, with a safe development default.

APP_ENV       "production" or "development" (the default). Production needs SECRET_KEY, sends
              cookies over HTTPS only, and `flask setup` prints the first admin's password
              once instead of keeping it in instance/admin-login.txt
INSTANCE_PATH the instance folder (default: instance/ beside the code): the development
              database, secret key and admin login, and attached files
DATABASE_URL  SQLAlchemy URL; default: SQLite file under instance/
REDIS_URL     Redis for jobs and rate limits; default: none (jobs run in a thread of the app)
SECRET_KEY    required when APP_ENV=production; in development a random key is
              generated once and kept in instance/secret_key
MAIL_SERVER, MAIL_PORT, MAIL_USE_TLS, MAIL_USE_SSL, MAIL_USERNAME, MAIL_PASSWORD,
MAIL_DEFAULT_SENDER  Flask-Mail's settings (its Mail extension, app/extensions.py, sends);
              MAIL_TIMEOUT seconds to wait for the server (10), MAIL_DATA_TIMEOUT seconds to
              wait for its final reply once it has a message's body (600, RFC 5321's advice:
              a reply that comes later is "uncertain", never sent twice). With MAIL_SERVER set
              (or MAIL_TRANSPORT=smtp) e-mail goes out by SMTP, else it is only kept in
              the outbox (shown in the app)
SMS_GATEWAY_URL  an HTTP SMS gateway (JSON POST); without it texts are kept in the outbox
MESSAGE_RETRY_DELAYS  seconds before each retry after a transient failure (30,120,600)
DELIVERY_LEASE_SECONDS  a worker renews its claim on the message it is sending every quarter
              of this (120); a message whose claim has lapsed this long (its worker stopped) is
              marked "uncertain" by the next maintenance
DELIVERY_MAINTENANCE_SECONDS  how often each `flask worker` runs its maintenance, idle or not
              (60): lapsed claims, and due messages whose job was lost (due for longer than this)
DUE_WORK_SECONDS  without Redis, how often the web process sends what is due (5)
PUBLIC_URL    the address people reach the app at, for links in e-mails (unsubscribe); unset, the address
              the request that writes the message came to (a marketing e-mail written elsewhere is refused)
BUSINESS_LATITUDE, BUSINESS_LONGITUDE  where the business is: a customer's page shows how far away
              (as the crow flies) its billing address is; DISTANCE_UNIT km (default) or mi. An admin
              sets it in the browser (Admin, Company settings), which wins over these
TIME_ZONE     the company's time zone (an IANA name, "Europe/London"; default UTC) that times are
              shown in, until an admin sets it in Company settings
MAP_TILE_URL  the map tiles of the customer page's mini-map ("" for a map without tiles);
              MAP_ATTRIBUTION the credit shown on it
GEOCODER      "nominatim" to look up an address's coordinates (off by default); GEOCODER_URL,
              GEOCODER_USER_AGENT
FILES_FOLDER  where files attached to customers are kept (default: instance/files);
              FILES_MAX_BYTES (10 MB), FILES_ALLOWED_TYPES ("pdf, png, ...": documents and images)
INBOUND_MESSAGE_TOKEN  the secret an SMS gateway or mail hook sends with each received message
              (POST /messages/inbound/sms or /email); without it nothing is received
"""
import os
import secrets
from pathlib import Path

from flask_appbuilder.security.manager import AUTH_DB

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))


class ConfigError(RuntimeError):
    """A setting the app cannot run without is missing or wrong."""


def database_url(url: str | None) -> str:
    """Normalise a DATABASE_URL to a SQLAlchemy URL with the psycopg 3 driver."""
    if not url:
        return f"sqlite:///{INSTANCE_DIR / 'app.db'}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def secret_key(env: str) -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        if len(key.encode()) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 bytes long")
        return key
    if env == "production":
        raise ConfigError("SECRET_KEY must be set when APP_ENV=production")
    # Development: one random key per instance folder, so sessions survive restarts.
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load() -> dict:
    """Build the Flask config mapping from the environment."""
    env = os.environ.get("APP_ENV", "development")
    redis_url = os.environ.get("REDIS_URL") or None
    files_max_bytes = int(os.environ.get("FILES_MAX_BYTES", str(10 * 1024 * 1024)))
    return dict(
        APP_ENV=env,
        APP_NAME="Customer back office",
        SECRET_KEY=secret_key(env),
        SQLALCHEMY_DATABASE_URI=database_url(os.environ.get("DATABASE_URL")),
        SQLALCHEMY_TRACK_MODIFICATIONS=False,
        REDIS_URL=redis_url,
        RQ_QUEUE=os.environ.get("RQ_QUEUE", "default"),
        # Flask-AppBuilder
        AUTH_TYPE=AUTH_DB,
        AUTH_ROLE_ADMIN="Admin",
        AUTH_ROLE_PUBLIC="Public",
        FAB_CREATE_DB=False,
        FAB_UPDATE_PERMS=False,
        # FAB's security model API (users, roles... under /api/v1/security/) is not served:
        # admins use the browser screens (app/security.py); the login API stays.
        FAB_ADD_SECURITY_API=False,
        FAB_API_SWAGGER_UI=True,
        FAB_SECURITY_MANAGER_CLASS="app.security.SecurityManager",
        FAB_PASSWORD_COMPLEXITY_ENABLED=True,
        AUTH_RATE_LIMITED=True,
        AUTH_RATE_LIMIT="10 per 20 second",
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=redis_url or "memory://",
        WTF_CSRF_ENABLED=True,
        WTF_CSRF_TIME_LIMIT=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=env == "production",
        # The customer list counts exactly up to this many rows on PostgreSQL, then
        # shows the planner's estimate ("about 1,000,000").
        LIST_EXACT_COUNT_LIMIT=int(os.environ.get("LIST_EXACT_COUNT_LIMIT", "1000")),
        # A bulk action on more customers than this runs as a background job with a progress bar.
        BULK_SYNC_LIMIT=int(os.environ.get("BULK_SYNC_LIMIT", "500")),
        # The business
        BASE_CURRENCY=os.environ.get("BASE_CURRENCY", "GBP"),
        # An FX rate older than this many days on the day it is used is shown as stale.
        FX_STALE_DAYS=int(os.environ.get("FX_STALE_DAYS", "30")),
        DEFAULT_PHONE_REGION=os.environ.get("DEFAULT_PHONE_REGION", "GB"),
        # Mail
        MAIL_SERVER=os.environ.get("MAIL_SERVER", "localhost"),
        MAIL_PORT=int(os.environ.get("MAIL_PORT", "25")),
        MAIL_USE_TLS=os.environ.get("MAIL_USE_TLS", "") == "1",
        MAIL_USE_SSL=os.environ.get("MAIL_USE_SSL", "") == "1",
        MAIL_USERNAME=os.environ.get("MAIL_USERNAME"),
        MAIL_PASSWORD=os.environ.get("MAIL_PASSWORD"),
        MAIL_DEFAULT_SENDER=os.environ.get("MAIL_DEFAULT_SENDER", "backoffice@localhost"),
        MAIL_TRANSPORT=os.environ.get("MAIL_TRANSPORT") or ("smtp" if os.environ.get("MAIL_SERVER") else "outbox"),
        MAIL_TIMEOUT=float(os.environ.get("MAIL_TIMEOUT", "10")),
        # Whether mail leaves is MAIL_TRANSPORT's to say; Flask-Mail would otherwise suppress
        # sending under TESTING and report each message delivered.
        MAIL_SUPPRESS_SEND=False,
        # Texts
        SMS_GATEWAY_URL=os.environ.get("SMS_GATEWAY_URL") or None,
        SMS_GATEWAY_TOKEN=os.environ.get("SMS_GATEWAY_TOKEN") or None,
        SMS_SENDER=os.environ.get("SMS_SENDER", "Backoffice"),
        # Delivery: seconds before each retry after a transient failure (then: failed).
        MESSAGE_RETRY_DELAYS=[int(s) for s in os.environ.get("MESSAGE_RETRY_DELAYS", "30,120,600").split(",") if s],
        MAIL_DATA_TIMEOUT=float(os.environ.get("MAIL_DATA_TIMEOUT", "600")),
        DELIVERY_LEASE_SECONDS=float(os.environ.get("DELIVERY_LEASE_SECONDS", "120")),
        DELIVERY_MAINTENANCE_SECONDS=int(os.environ.get("DELIVERY_MAINTENANCE_SECONDS", "60")),
        DUE_WORK_SECONDS=float(os.environ.get("DUE_WORK_SECONDS", "5")),
        PUBLIC_URL=os.environ.get("PUBLIC_URL") or None,
        INBOUND_MESSAGE_TOKEN=os.environ.get("INBOUND_MESSAGE_TOKEN") or None,
        BUSINESS_ADDRESS=os.environ.get("BUSINESS_ADDRESS", ""),
        TIME_ZONE=os.environ.get("TIME_ZONE") or None,
        BUSINESS_LATITUDE=os.environ.get("BUSINESS_LATITUDE") or None,
        BUSINESS_LONGITUDE=os.environ.get("BUSINESS_LONGITUDE") or None,
        DISTANCE_UNIT=os.environ.get("DISTANCE_UNIT", "km"),
        MAP_TILE_URL=os.environ.get("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
        MAP_ATTRIBUTION=os.environ.get("MAP_ATTRIBUTION", "© OpenStreetMap contributors"),
        FILES_FOLDER=os.environ.get("FILES_FOLDER") or None,  # None: <instance folder>/files
        FILES_MAX_BYTES=files_max_bytes,
        # A request larger than the largest file (and its form) is refused before it is read.
        MAX_CONTENT_LENGTH=files_max_bytes + 1024 * 1024,
        FILES_ALLOWED_TYPES=os.environ.get("FILES_ALLOWED_TYPES") or None,  # None: documents and images
        GEOCODER=os.environ.get("GEOCODER") or None,
        GEOCODER_URL=os.environ.get("GEOCODER_URL") or None,
        GEOCODER_USER_AGENT=os.environ.get("GEOCODER_USER_AGENT") or None,
    )
