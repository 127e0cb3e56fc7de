"""A note's form carries a one-time key: sent twice, it records one note."""
import uuid

import pytest
from sqlalchemy import func, select

from app.models import Note
from app.services.customers import notes
from app.services.errors import AlreadyDone, Invalid
from tests import factories as f


def count_notes(ctx) -> int:
    return ctx.scalar(select(func.count()).select_from(Note))


def test_a_note_sent_twice_with_its_key_is_written_once(ctx):
    staff, c, key = f.user("staff"), f.customer(), str(uuid.uuid4())
    notes.add_note(ctx, staff, c.id, {"body": "Called about the invoice"}, form_key=key)
    with pytest.raises(AlreadyDone) as e:
        notes.add_note(ctx, staff, c.id, {"body": "Called about the invoice"}, form_key=key)
    ctx.rollback()
    assert "already" in e.value.message
    assert count_notes(ctx) == 1


def test_a_refused_note_leaves_its_key_for_the_corrected_one(ctx):
    staff, c, key = f.user("staff"), f.customer(), str(uuid.uuid4())
    with pytest.raises(Invalid):
        notes.add_note(ctx, staff, c.id, {"body": "   "}, form_key=key)
    ctx.rollback()
    notes.add_note(ctx, staff, c.id, {"body": "Now with words"}, form_key=key)
    assert count_notes(ctx) == 1


def test_a_key_that_is_not_a_form_key_is_refused(ctx):
    with pytest.raises(Invalid) as e:
        notes.add_note(ctx, f.user("staff"), f.customer().id, {"body": "Hello"}, form_key="<script>")
    ctx.rollback()
    assert "form_key" in e.value.errors and count_notes(ctx) == 0


def test_a_note_without_a_key_is_written_as_before(ctx):
    staff, c = f.user("staff"), f.customer()
    notes.add_note(ctx, staff, c.id, {"body": "One"})
    notes.add_note(ctx, staff, c.id, {"body": "One"})
    assert count_notes(ctx) == 2
