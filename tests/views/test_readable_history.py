"""History people can read (issue 12): the Changes tab and the audit log show labels, names,
yes/no, times to the minute, money with its currency, an added record as one line, and no
internal values; the raw entry stays on the audit log's show page, for admins."""
import io
from pathlib import Path

import pytest
from sqlalchemy import event, select

from app.extensions import db
from app.models import AuditEntry
from app.services.customers import addresses, contacts, files, services
from app.services.customers.update import update_customer
from app.views import history
from tests import factories as f


@pytest.fixture
def ada(app, resellers):
    with app.app_context():
        admin = f.user("admin")
        db.session.info["actor"] = (admin.id, "admin")
        c = f.customer(first_name="Ada", surname="Lovelace", email="ada@example.com", currency="EUR",
                       reseller_id=resellers["Reseller A"])
        grace = contacts.create_contact(db.session, admin, c.id, {"first_name": "Grace", "surname": "Hopper",
                                                                  "email": "grace@example.com"})
        contacts.update_contact(db.session, admin, grace.id, {"is_primary": "y"})
        addresses.create_address(db.session, admin, c.id, {"kind": "billing", "line1": "1 Analytical Row",
                                                           "postcode": "SW1A 1AA"})
        services.create_service(db.session, admin, c.id, {"name": "Broadband", "price": "29.50",
                                                          "billing_cycle": "one-off"})
        update_customer(db.session, admin, c.id, {"reseller_id": resellers["Reseller B"], "marketing_email": "y"})
        customer = db.session.get(type(c), c.id)
        customer.balance = "12.50"
        db.session.commit()
        files.attach(db.session, admin, c.id, io.BytesIO(b"hello"), "plan.pdf", Path(app.config["FILES_FOLDER"]))
        db.session.info.pop("actor")
        return c.id


def changes_tab(browser, pk) -> str:
    r = browser.get(f"/customers/show/{pk}?tab=changes")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    return html[html.index('id="changes"'):html.index("</table>", html.index('id="changes"'))]


def test_the_changes_tab_shows_labels_names_words_and_money_not_columns_and_ids(app, login, ada):
    html = changes_tab(login("staff"), ada)
    assert "Added contact <strong>Grace Hopper</strong>" in html
    assert "Primary contact" in html and "is_primary" not in html
    assert "Reseller A" in html and "Reseller B" in html and "reseller_id" not in html
    assert "Marketing by e-mail" in html and "marketing_email" not in html
    assert "€12.50" in html  # the balance in the customer's currency
    assert "Price: €29.50" in html and "Billing cycle: One-off" in html  # a service added: one line
    assert "Added address <strong>1 Analytical Row, SW1A 1AA</strong>" in html
    assert "<td>admin Test</td>" in html  # who, by their name


def test_an_added_record_is_one_row_and_internal_values_are_left_out(app, login, ada):
    html = changes_tab(login("admin"), ada)
    rows = html.split('<tr class="change"')[1:]
    (file_row,) = [r for r in rows if "plan.pdf" in r]
    assert file_row.count("<tr") == 0 and "Added file" in file_row
    with app.app_context():
        stored = db.session.scalar(select(AuditEntry).where(AuditEntry.entity == "customer_file")).changes
    assert stored["stored_name"][1] not in html and stored["sha256"][1] not in html
    assert "sha256" not in html and "Stored name" not in html


def test_yes_no_and_times_to_the_minute(app, ctx, ada):
    entries = ctx.scalars(select(AuditEntry).where(AuditEntry.customer_id == ada).order_by(AuditEntry.id)).all()
    events = history.present(ctx, entries)
    update = next(e for e in events if e.verb == "Changed" and e.noun == "customer")
    assert "Marketing by e-mail</span>: <span class=\"history-old\">no</span> → <span class=\"history-new\">yes" \
        in update.detail
    assert len(events[0].at.striptags()) == len("2026-01-01 10:00")


def test_names_are_read_once_per_kind_for_a_page(app, ctx, ada):
    for n in range(5):
        contacts.create_contact(ctx, f.user("admin"), ada, {"surname": f"Extra{n}"})
    entries = ctx.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(50)).all()
    statements = []
    listen = lambda *args: statements.append(args[2])
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        events = history.present(ctx, entries)
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    kinds = {e.noun for e in events}
    assert len(statements) <= 8 and len(statements) < len(events), statements  # one per kind, not per row
    assert "contact" in kinds and any(e.record == "Extra4" for e in events)


def test_the_raw_entry_is_behind_a_details_link_for_admins_only(app, login, ada):
    admin_html = changes_tab(login("admin"), ada)
    assert 'class="history-raw" href="/audit/show/' in admin_html
    assert "history-raw" not in changes_tab(login("staff"), ada)
    admin = login("admin")
    entry_id = admin_html.split('href="/audit/show/')[1].split('"')[0]
    raw = admin.get(f"/audit/show/{entry_id}").get_data(as_text=True)
    assert "audit-changes" in raw  # every stored field, as it was recorded


def test_the_audit_list_reads_like_the_changes_tab(app, login, ada):
    html = login("admin").get("/audit/list/").get_data(as_text=True)
    assert "Added contact <strong>Grace Hopper</strong>" in html
    assert f'href="/customers/show/{ada}?tab=changes">Ada Lovelace</a>' in html
    assert "Reseller B" in html and "reseller_id" not in html and "When" in html and "When (UTC)" not in html
    assert '"sha256"' not in html and "audit-changes" not in html


def test_a_deleted_record_keeps_its_name(app, login, ada):
    with app.app_context():
        other = contacts.create_contact(db.session, f.user("admin"), ada, {"first_name": "Temp", "surname": "Orary"})
        contacts.delete_contact(db.session, f.user("admin"), other.id)
    html = changes_tab(login("admin"), ada)
    assert "Deleted contact <strong>Temp Orary</strong>" in html


def test_history_words_are_the_screens_words(app, login, ada):
    html = changes_tab(login("admin"), ada)
    assert "Type: Billing address" in html  # as the address screens say it, not "Billing"
