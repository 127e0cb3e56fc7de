"""The profile's note form, sent twice (a double click, a reload): one note, and the second
answer says it was already added, back on the Notes tab."""
import re

from sqlalchemy import func, select

from app.extensions import db
from app.models import Note
from tests import factories as f


def note_form_key(html: str) -> str:
    form = html[html.index('id="note-form"'):]
    return re.search(r'name="form_key" value="([^"]+)"', form).group(1)


def test_a_note_form_sent_twice_writes_one_note(app, login):
    with app.app_context():
        pk = f.customer().id
    browser = login("staff")
    html = browser.get(f"/customers/show/{pk}?tab=notes").get_data(as_text=True)
    data = {"body": "Called about the invoice", "form_key": note_form_key(html)}
    first = browser.post(f"/customers/show/{pk}/notes", data)
    second = browser.post(f"/customers/show/{pk}/notes", data)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"] == f"/customers/show/{pk}?tab=notes"
    page = browser.get(second.headers["Location"]).get_data(as_text=True)
    assert "This note was already added; it was not added twice." in page
    assert page.count("Called about the invoice") == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Note)) == 1


def test_each_note_form_has_its_own_key(app, login):
    with app.app_context():
        pk = f.customer().id
    browser = login("staff")
    keys = set()
    for body in ("One", "Two"):
        html = browser.get(f"/customers/show/{pk}?tab=notes").get_data(as_text=True)
        keys.add(note_form_key(html))
        browser.post(f"/customers/show/{pk}/notes", {"body": body, "form_key": note_form_key(html)})
    assert len(keys) == 2
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Note)) == 2


def test_an_empty_note_keeps_its_key_so_the_corrected_note_is_written(app, login):
    with app.app_context():
        pk = f.customer().id
    browser = login("staff")
    key = note_form_key(browser.get(f"/customers/show/{pk}?tab=notes").get_data(as_text=True))
    r = browser.post(f"/customers/show/{pk}/notes", {"body": "  ", "form_key": key})
    assert "Write the note." in browser.get(r.headers["Location"]).get_data(as_text=True)
    r = browser.post(f"/customers/show/{pk}/notes", {"body": "<script>alert(1)</script>", "form_key": key})
    page = browser.get(r.headers["Location"]).get_data(as_text=True)
    assert "Note added." in page and "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_forged_form_key_is_refused_on_the_notes_tab(app, login):
    with app.app_context():
        pk = f.customer().id
    browser = login("staff")
    r = browser.post(f"/customers/show/{pk}/notes", {"body": "Hello", "form_key": "not-a-key"})
    assert r.headers["Location"] == f"/customers/show/{pk}?tab=notes"
    assert "open it again" in browser.get(r.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Note)) == 0
