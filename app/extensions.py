"""Extension objects, created once and bound to each app in create_app()."""
import sqlite3

from flask_appbuilder import Model
from sqlalchemy import event
from sqlalchemy.engine import Engine
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

# FAB's own tables live in Model.metadata; ours must share it so that Alembic
# sees both when it autogenerates.
db = SQLAlchemy(metadata=Model.metadata)
migrate = Migrate()
csrf = CSRFProtect()


@event.listens_for(Engine, "connect")
def _sqlite_unicode_lower(dbapi_connection, connection_record):
    """SQLite's lower() folds only A-Z, so ILIKE missed "Ó'Súilleabháin"; use Python's."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function(
            "lower", 1, lambda s: s.lower() if isinstance(s, str) else s, deterministic=True)
