"""What only a real PostgreSQL shows: migrations both ways, races, COPY export, estimated counts."""
import threading
import uuid

from sqlalchemy import create_engine, text

from app.extensions import db
from app.models import Customer
from app.services.errors import Invalid
from tests import factories as f


def test_migrations_build_and_remove_the_whole_schema(app):
    from flask_migrate import downgrade, upgrade
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    server = url.rsplit("/", 1)[0]
    name = f"migr_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        from tests.conftest import make_app
        other = make_app(f"{server}/{name}")
        with other.app_context():
            upgrade()
            tables = set(db.session.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
            assert {"customer", "contact", "address", "tag", "customer_tag", "reseller", "audit_entry",
                    "ab_user", "ab_role", "ab_permission_view", "submitted_form"} <= tables
            indexes = set(db.session.execute(text("SELECT indexname FROM pg_indexes")).scalars())
            assert "ix_customer_surname_trgm" in indexes
            db.session.remove()
            downgrade(revision="base")
            left = set(db.session.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
            assert left <= {"alembic_version"}
            db.session.remove()
            db.engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_two_people_saving_the_same_email_at_once_get_one_customer_and_one_field_error(app):
    barrier = threading.Barrier(2)
    outcomes = []

    def save(surname):
        with app.app_context():
            from app.services.customers import validate
            original = validate.clean

            def clean_then_wait(*args, **kwargs):
                result = original(*args, **kwargs)
                barrier.wait(timeout=10)  # both have passed the uniqueness check
                return result
            try:
                validate_clean = clean_then_wait
                from app.services.customers import create
                create.clean = validate_clean
                f.customer(surname=surname, email="race@example.com")
                outcomes.append("saved")
            except Invalid as e:
                outcomes.append(e.errors)
            finally:
                create.clean = original
                db.session.remove()

    threads = [threading.Thread(target=save, args=(n,)) for n in ("One", "Two")]
    [t.start() for t in threads]
    [t.join(20) for t in threads]
    assert sorted(map(str, outcomes)) == sorted(
        ["saved", str({"email": ["Another customer already uses this e-mail address."]})])
    with app.app_context():
        assert db.session.query(Customer).filter_by(email="race@example.com").count() == 1


def test_list_count_is_estimated_past_the_cap_and_the_last_page_is_read_backwards(app, login):
    with app.app_context():
        from app.services.demo_data import generate
        generate(db.session, 160, resellers=2, tags=4, seed=7)
        db.session.execute(text("ANALYZE customer"))
        db.session.commit()
        exact = db.session.query(Customer).filter(Customer.status != "archived").count()
        last_names = [c.name for c in db.session.query(Customer).filter(Customer.status != "archived")
                      .order_by(Customer.sort_name.desc(), Customer.id.desc()).limit(25)]
    saved, app.config["LIST_EXACT_COUNT_LIMIT"] = app.config["LIST_EXACT_COUNT_LIMIT"], 50
    try:
        browser = login("admin")
        html = browser.get("/customers/list/").get_data(as_text=True)
        assert "about" in html
        deep = browser.get("/customers/list/?page_CustomerView=99").get_data(as_text=True)
        for name in last_names[:3]:
            assert name.replace("'", "&#39;") in deep
    finally:
        app.config["LIST_EXACT_COUNT_LIMIT"] = saved
    assert exact > 50


def test_csv_export_streams_from_copy_with_the_same_rows_as_the_list(app, login):
    with app.app_context():
        f.customer(surname="=cmd", first_name="Zoë", email="z@example.com", phone="020 7946 0001")
    body = login("admin").get("/customers/export.csv").get_data(as_text=True)
    lines = body.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Customer ID,Type,Title")
    assert "'=cmd" in lines[1] and "Zoë" in lines[1] and "'+442079460001" in lines[1]


def test_rate_limited_login_counts_in_redis(app, redis_url):
    import redis as redis_lib

    from tests.conftest import PASSWORD, make_app
    redis_lib.Redis.from_url(redis_url).flushdb()
    limited = make_app(app.config["SQLALCHEMY_DATABASE_URI"], RATELIMIT_ENABLED=True, AUTH_RATE_LIMITED=True,
                       AUTH_RATE_LIMIT="3 per 1 minute", RATELIMIT_STORAGE_URI=redis_url)
    from tests.conftest import csrf_from
    client = limited.test_client()
    token = csrf_from(client.get("/login/").get_data(as_text=True))
    codes = [client.post("/login/", data={"username": "admin", "password": "wrong", "csrf_token": token}).status_code
             for _ in range(4)]
    assert codes[-1] == 429
    assert codes[:3] == [302, 302, 302]  # back to the login page with "Invalid login"
    assert redis_lib.Redis.from_url(redis_url).keys("*"), "the limiter kept its counts somewhere other than Redis"
    # The right password is refused too while the limit lasts.
    assert client.post("/login/", data={"username": "admin", "password": PASSWORD,
                                        "csrf_token": token}).status_code == 429


def test_audit_rows_of_a_set_based_change_go_through_copy_intact(app):
    from sqlalchemy import select

    from app.models import AuditEntry
    from app.services import audit
    awkward = {"note": ["a\tb\\c\nd\r", "ü € 𝄞 <script> =HYPERLINK(\"x\")"], "n": [None, 1.5], "ok": [True, False]}
    with app.app_context():
        c = f.customer()
        db.session.info["actor"] = (None, "back\\slash\ttab\nline")
        try:
            audit.record(db.session, "customer", "update", [(c.id, c.id, awkward), (None, None, {"x": [1, 2]})])
            db.session.commit()
        finally:
            db.session.info.pop("actor", None)
        rows = db.session.execute(select(AuditEntry.entity_id, AuditEntry.customer_id, AuditEntry.username,
                                         AuditEntry.changes, AuditEntry.action, AuditEntry.at)
                                  .where(AuditEntry.entity == "customer", AuditEntry.action == "update")
                                  .order_by(AuditEntry.id)).all()
        assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows[-2:]] == [
            (c.id, c.id, "back\\slash\ttab\nline", awkward, "update"),
            (None, None, "back\\slash\ttab\nline", {"x": [1, 2]}, "update")]
        assert rows[-1].at.tzinfo is not None


def test_a_large_bulk_change_vacuums_what_it_changed(app, monkeypatch):
    """A bulk status change clears the all-visible marks of the pages it touches, which the list's
    index-only walks depend on; autovacuum does not come for HOT-pruned tables (few dead rows),
    so a large job vacuums customer and service itself."""
    from sqlalchemy import select

    from app.services.customers import bulk

    def vacuums():
        db.session.execute(text("SELECT pg_stat_clear_snapshot()"))
        return dict(db.session.execute(text(
            "SELECT relname, vacuum_count FROM pg_stat_user_tables WHERE relname IN ('customer', 'service')")).all())

    with app.app_context():
        ids = [f.customer().id for _ in range(3)]
        admin = f.user("admin")
        before = vacuums()
        job = bulk.prepare(db.session, admin, "disable", {}, ids=ids[:1])
        db.session.commit()
        bulk.run(db.session, job)
        assert vacuums() == before  # a small job leaves it to autovacuum
        monkeypatch.setattr(bulk, "VACUUM_AFTER", 2)
        job = bulk.prepare(db.session, admin, "disable", {}, ids=ids[1:])
        db.session.commit()
        bulk.run(db.session, job)
        after = vacuums()
        assert after["customer"] == before["customer"] + 1 and after["service"] == before["service"] + 1
        assert db.session.scalars(select(Customer.status).where(Customer.id.in_(ids))).all() == ["disabled"] * 3


def test_the_vacuum_after_a_job_gives_way_to_a_lock_and_the_job_stays_done(app, monkeypatch):
    from sqlalchemy import create_engine

    from app.models import Job
    from app.services import db as dbtools
    from app.services.customers import bulk

    monkeypatch.setattr(bulk, "VACUUM_AFTER", 1)
    real_vacuum = dbtools.vacuum
    monkeypatch.setattr(bulk, "vacuum", lambda session, *tables: real_vacuum(session, *tables, lock_timeout="200ms"))
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with app.app_context(), other.connect() as holder:
        ids = [f.customer().id for _ in range(2)]
        holder.exec_driver_sql("LOCK TABLE service IN SHARE UPDATE EXCLUSIVE MODE")  # as a long VACUUM would
        job = bulk.prepare(db.session, f.user("admin"), "disable", {}, ids=ids)
        db.session.commit()
        bulk.run(db.session, job)
        holder.rollback()
        assert db.session.get(Job, job.id).status == "done" and job.result["changed"] == 2
        # the short lock timeout was the VACUUM's alone: pooled connections are back to the default
        db.session.remove()
        default = other.connect().exec_driver_sql("SHOW lock_timeout").scalar()
        for _ in range(3):
            with db.engine.connect() as conn:
                assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == default
    other.dispose()
