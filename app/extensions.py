"""Extension objects, created once and bound to each app in create_app()."""
from flask_appbuilder import Model
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

# FAB's own tables live in Model.metadata; ours must share it so that Alembic
# sees both when it autogenerates.
db = SQLAlchemy(metadata=Model.metadata)
migrate = Migrate()
csrf = CSRFProtect()
