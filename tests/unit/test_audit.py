"""The audit hook records who changed what, field by field, for every audited record."""
from app.models import AuditEntry
from app.services.customers import contacts
from app.services.customers.update import update_customer
from tests import factories as f


def entries(ctx, **by):
    return ctx.query(AuditEntry).filter_by(**by).order_by(AuditEntry.id).all()


def test_create_change_and_tags_are_recorded_with_old_and_new_values(ctx):
    ctx.info["actor"] = (42, "auditor")
    try:
        vip = f.tag("vip")
        c = f.customer(first_name="Ada", surname="Lovelace", email="ada@example.com")
        update_customer(ctx, f.user("admin"), c.id, {"email": "ada@byron.example", "tag_ids": [vip.id]})
        update_customer(ctx, f.user("admin"), c.id, {"email": "ada@byron.example"})  # no change: no entry
    finally:
        ctx.info.pop("actor")
    created, changed = entries(ctx, entity="customer", customer_id=c.id)
    assert created.action == "create" and created.username == "auditor" and created.user_id == 42
    assert created.entity_id == c.id and changed.entity_id == c.id
    assert created.changes["surname"] == [None, "Lovelace"]
    assert changed.action == "update"
    assert changed.changes == {"email": ["ada@example.com", "ada@byron.example"], "tags": [[], ["vip"]]}


def test_child_records_are_filed_under_their_customer(ctx):
    c = f.customer()
    contact = contacts.create_contact(ctx, f.user("admin"), c.id, {"surname": "X"})
    contacts.add_phone(ctx, f.user("admin"), contact.id, {"number": "020 7946 0001"})
    contacts.update_contact(ctx, f.user("admin"), contact.id, {"position": "Landlord"})
    kinds = [(e.entity, e.action) for e in entries(ctx, customer_id=c.id)]
    assert kinds == [("customer", "create"), ("contact", "create"), ("contact_phone", "create"), ("contact", "update")]


def test_web_changes_record_the_logged_in_user(app, login):
    browser = login("staff")
    r = browser.form("/customers/add", {"customer_type": "company", "company_name": "Acme Ltd", "currency": "GBP"})
    assert r.status_code == 302
    from app.extensions import db
    with app.app_context():
        entry = db.session.query(AuditEntry).filter_by(entity="customer").one()
        assert entry.username == "staff"
        assert entry.changes["company_name"] == [None, "Acme Ltd"]


def test_tags_and_resellers_are_audited_with_their_names(ctx):
    vip = f.tag("vip", "#ff0000")
    entry = entries(ctx, entity="tag")[-1]
    assert (entry.action, entry.entity_id) == ("create", vip.id)
    assert entry.changes == {"name": [None, "vip"], "colour": [None, "#ff0000"]}
