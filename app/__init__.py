"""create_app(): config, database, FAB, views, CLI; nothing else."""
import logging
from pathlib import Path

from flask import Flask, g
from flask_appbuilder import AppBuilder
from sqlalchemy.orm import Session

import config
from app.extensions import csrf, db, mail, migrate


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(config.INSTANCE_DIR))
    app.config.update(config.load())
    app.config.update(overrides or {})
    logging.basicConfig(level=app.config.get("LOG_LEVEL", logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # FAB logs every permission it creates and every view it registers.
    logging.getLogger("flask_appbuilder").setLevel(app.config.get("FAB_LOG_LEVEL", logging.ERROR))

    from app import models  # noqa: F401  (all tables on the metadata)
    from app.services import audit, permissions, settings
    from app.services.customers import files

    app.config["FILES_FOLDER"] = app.config.get("FILES_FOLDER") or str(Path(app.instance_path) / "files")
    settings.configure(app.config)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(config.BASE_DIR / "migrations"))
    csrf.init_app(app)
    mail.init_app(app)
    audit.install(Session)
    files.install(Session)
    audit.set_actor_provider(_current_actor)
    permissions.set_permission_source(_request_permissions)

    from app.views.home import HomeView
    appbuilder = AppBuilder(indexview=HomeView, base_template="layout.html")
    with app.app_context():
        appbuilder.init_app(app, db.session)
        from app import views
        views.register(appbuilder)

    from app.cli import register as register_cli
    register_cli(app)
    from app.jobs import watch_due_work
    watch_due_work(app)
    return app


def _request_permissions(user):
    """The request's logged-in user's permissions as FAB's security manager holds them (read
    once a request), for services/permissions.py; None for anyone else, or outside a request."""
    from flask import current_app, has_request_context
    if not has_request_context():
        return None
    user = getattr(user, "_get_current_object", lambda: user)()
    if user is None or user is not g.get("_login_user") or not getattr(user, "is_authenticated", False):
        return None
    security = current_app.appbuilder.sm
    return lambda permission, view: security._has_view_access(user, permission, view)


def _current_actor():
    """The logged-in user, for the audit trail; (None, None) outside a request."""
    from flask import has_request_context
    if not has_request_context():
        return (None, None)
    user = getattr(g, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return (None, None)
    return (user.id, user.username)
