"""SQLite rebuilds a table to drop a column; the surname and balance triggers must survive every migration."""
import sqlite3

import pytest

from tests.conftest import make_app, on_postgresql


@pytest.mark.skipif(on_postgresql(), reason="SQLite's own migration path")
def test_migrations_down_and_up_keep_the_surname_and_balance_triggers(tmp_path):
    from flask_migrate import downgrade, upgrade

    from app.extensions import db
    path = tmp_path / "m.db"
    other = make_app(f"sqlite:///{path}")

    def triggers():
        with sqlite3.connect(path) as conn:
            return sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
    with other.app_context():
        upgrade()
        surname = ["trg_customer_surname_insert", "trg_customer_surname_update"]
        expected = ["trg_customer_balance_insert", *surname]
        assert triggers() == expected
        downgrade(revision="0005")
        assert triggers() == surname
        upgrade()
        assert triggers() == expected
        db.session.remove()
        db.engine.dispose()


@pytest.mark.skipif(on_postgresql(), reason="SQLite's own migration path")
def test_a_table_rebuilt_by_a_migration_takes_no_rows_of_other_tables_with_it(tmp_path):
    """SQLite enforces foreign keys on the app's connections; a batch migration drops and
    re-creates a table, which must not fire the ON DELETE CASCADE / SET NULL of rows pointing at it."""
    from flask_migrate import downgrade, upgrade

    from app.extensions import db
    path = tmp_path / "m.db"
    other = make_app(f"sqlite:///{path}")

    def rows():
        with sqlite3.connect(path) as conn:
            return conn.execute("SELECT id, batch_id FROM message").fetchall()
    with other.app_context():
        upgrade()
        with sqlite3.connect(path) as conn:
            conn.execute("INSERT INTO customer (id, customer_type, name, sort_name, surname, currency, status, "
                         "balance, joined_on, created_at) VALUES (1, 'private', 'Ada Byron', 'byron ada', 'Byron', "
                         "'GBP', 'active', 0, '2026-01-01', '2026-01-01')")
            conn.execute("INSERT INTO job (id, action, params, status, total, done, result, created_at) "
                         "VALUES (7, 'email', '{}', 'done', 1, 1, '{}', '2026-01-01')")
            conn.execute("INSERT INTO message (id, customer_id, channel, purpose, kind, direction, body, status, "
                         "batch_id, attempts, created_at) VALUES (3, 1, 'email', 'service', 'message', 'out', "
                         "'Hello', 'sent', 7, 1, '2026-01-01')")
        downgrade(revision="0013")  # rebuilds job
        upgrade()
        assert rows() == [(3, 7)]
        db.session.remove()
        db.engine.dispose()
