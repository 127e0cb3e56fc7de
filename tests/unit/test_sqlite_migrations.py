"""SQLite rebuilds a table to drop a column; the surname triggers must survive every migration."""
import sqlite3

import pytest

from tests.conftest import make_app, on_postgresql


@pytest.mark.skipif(on_postgresql(), reason="SQLite's own migration path")
def test_migrations_down_and_up_keep_the_surname_triggers(tmp_path):
    from flask_migrate import downgrade, upgrade

    from app.extensions import db
    path = tmp_path / "m.db"
    other = make_app(f"sqlite:///{path}")

    def triggers():
        with sqlite3.connect(path) as conn:
            return sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
    with other.app_context():
        upgrade()
        expected = ["trg_customer_surname_insert", "trg_customer_surname_update"]
        assert triggers() == expected
        downgrade(revision="0005")
        assert triggers() == expected
        upgrade()
        assert triggers() == expected
        db.session.remove()
        db.engine.dispose()
