"""Notes on a customer (Commusoft, Launch27): pinned when important, private from resellers,
"do not work with again" makes the customer dormant."""
import pytest
from sqlalchemy import select

from app.models import AuditEntry, Customer
from app.services.customers import notes
from app.services.errors import Forbidden, Invalid, NotFound
from tests import factories as f


@pytest.fixture
def people(ctx):
    return {name: f.user(name) for name in ("admin", "staff", "reseller_a", "reseller_b")}


def test_important_notes_come_first_then_the_newest(ctx, people):
    c = f.customer()
    first = notes.add_note(ctx, people["staff"], c.id, {"body": "Called about the gate code"})
    pinned = notes.add_note(ctx, people["staff"], c.id, {"body": "Dog in the garden", "important": "on"})
    last = notes.add_note(ctx, people["admin"], c.id, {"body": "Prefers mornings"})
    assert [n.id for n in notes.notes_for(ctx, people["admin"], c.id)] == [pinned.id, last.id, first.id]
    notes.set_important(ctx, people["admin"], first.id, True)
    assert [n.id for n in notes.notes_for(ctx, people["admin"], c.id)] == [pinned.id, first.id, last.id]
    assert (pinned.created_by, pinned.body) == ("staff", "Dog in the garden")


def test_private_notes_are_never_shown_to_a_reseller(ctx, people, resellers):
    c = f.customer(reseller_id=resellers["Reseller A"])
    secret = notes.add_note(ctx, people["staff"], c.id, {"body": "Owes us from 2019", "private": "1"})
    open_note = notes.add_note(ctx, people["reseller_a"], c.id, {"body": "Key under the mat"})
    assert [n.id for n in notes.notes_for(ctx, people["reseller_a"], c.id)] == [open_note.id]
    assert {n.id for n in notes.notes_for(ctx, people["staff"], c.id)} == {secret.id, open_note.id}
    with pytest.raises(NotFound):
        notes.get_note(ctx, people["reseller_a"], secret.id)
    with pytest.raises(NotFound):
        notes.delete_note(ctx, people["reseller_a"], secret.id)
    with pytest.raises(Forbidden):
        notes.add_note(ctx, people["reseller_a"], c.id, {"body": "x", "private": "on"})


def test_another_resellers_customer_and_notes_are_not_found(ctx, people, resellers):
    c = f.customer(reseller_id=resellers["Reseller B"])
    note = notes.add_note(ctx, people["admin"], c.id, {"body": "B's note"})
    for call in (lambda: notes.notes_for(ctx, people["reseller_a"], c.id),
                 lambda: notes.add_note(ctx, people["reseller_a"], c.id, {"body": "x"}),
                 lambda: notes.set_important(ctx, people["reseller_a"], note.id, True),
                 lambda: notes.delete_note(ctx, people["reseller_a"], note.id)):
        with pytest.raises(NotFound):
            call()


@pytest.mark.parametrize("body, message", [
    ("", "Write the note."), ("   \n ", "Write the note."), ("x" * 10_001, "at most 10,000 characters"),
])
def test_an_empty_or_huge_note_is_refused_and_nothing_is_written(ctx, people, body, message):
    c = f.customer()
    with pytest.raises(Invalid) as e:
        notes.add_note(ctx, people["staff"], c.id, {"body": body})
    assert message in " ".join(e.value.errors["body"])
    assert notes.notes_for(ctx, people["staff"], c.id) == []


def test_markup_and_formulas_are_kept_as_written(ctx, people):
    c = f.customer()
    note = notes.add_note(ctx, people["staff"], c.id, {"body": "<script>alert(1)</script> =HYPERLINK(\"x\")"})
    assert note.body == "<script>alert(1)</script> =HYPERLINK(\"x\")"


def test_do_not_work_with_again_makes_the_customer_dormant_and_is_audited(ctx, people):
    c = f.customer()
    assert not notes.never_again(ctx, c.id)
    notes.add_note(ctx, people["staff"], c.id, {"body": "Abusive to our engineer", "do_not_work": "on"})
    ctx.expire_all()
    assert ctx.get(Customer, c.id).status == "dormant"
    assert notes.never_again(ctx, c.id)
    trail = ctx.scalars(select(AuditEntry).where(AuditEntry.customer_id == c.id).order_by(AuditEntry.id)).all()
    assert {(a.entity, a.action) for a in trail} >= {("note", "create"), ("customer", "update")}
    assert any(a.changes.get("status") == ["active", "dormant"] for a in trail)


def test_an_archived_customer_cannot_be_marked_do_not_work_with(ctx, people):
    c = f.customer(status="archived")
    with pytest.raises(Invalid) as e:
        notes.add_note(ctx, people["staff"], c.id, {"body": "Never again", "do_not_work": "on"})
    assert "archived customer cannot be made dormant" in e.value.errors["do_not_work"][0]
    assert notes.notes_for(ctx, people["admin"], c.id) == []


def test_many_notes_come_a_page_at_a_time_with_the_pinned_ones_first(ctx, people):
    c = f.customer()
    written = [notes.add_note(ctx, people["staff"], c.id, {"body": f"note {i}", "important": i == 3}).id
               for i in range(7)]
    page, more = notes.notes_page(ctx, people["admin"], c.id, limit=2)
    assert [n.id for n in page] == [written[3], written[6], written[5]] and more == written[5]
    page, more = notes.notes_page(ctx, people["admin"], c.id, before=more, limit=2)
    assert [n.id for n in page] == [written[4], written[2]] and more == written[2]
    page, more = notes.notes_page(ctx, people["admin"], c.id, before=more, limit=2)
    assert [n.id for n in page] == [written[1], written[0]] and more is None
