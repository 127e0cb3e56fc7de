"""Deleting a customer, alone or in bulk, takes its notes, files (rows and bytes) and messages
with it, on SQLite (which does not enforce ON DELETE CASCADE) as on PostgreSQL."""
import io

import pytest
from sqlalchemy import func, select

from app.models import AuditEntry, CustomerFile, Message, Note
from app.services.customers import bulk, files, notes
from app.services.customers.delete import delete_customer
from app.services.settings import settings
from tests import factories as f


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "files_folder", str(tmp_path))
    return tmp_path


def a_customer_with_children(ctx, folder):
    admin = f.user("admin")
    c = f.customer()
    notes.add_note(ctx, admin, c.id, {"body": "a note"})
    attached = files.attach(ctx, admin, c.id, io.BytesIO(b"%PDF-1.4 hello"), "contract.pdf", folder,
                            1_000_000, files.normalise_types(None))
    ctx.add(Message(customer_id=c.id, channel="email", subject="S", body="B", status="sent"))
    ctx.commit()
    assert (folder / attached.stored_name).exists()
    return c.id, folder / attached.stored_name


def leftovers(ctx, customer_id):
    return [ctx.scalar(select(func.count()).select_from(model).where(model.customer_id == customer_id))
            for model in (Note, CustomerFile, Message)]


def test_deleting_one_customer_removes_its_notes_files_and_messages(ctx, folder):
    customer_id, stored = a_customer_with_children(ctx, folder)
    delete_customer(ctx, f.user("admin"), customer_id)
    assert leftovers(ctx, customer_id) == [0, 0, 0]
    assert not stored.exists()
    deleted = {a.entity for a in ctx.scalars(select(AuditEntry).where(AuditEntry.customer_id == customer_id,
                                                                     AuditEntry.action == "delete"))}
    assert {"customer", "note", "customer_file"} <= deleted


def test_a_bulk_delete_removes_them_too(ctx, folder):
    customer_id, stored = a_customer_with_children(ctx, folder)
    admin = f.user("admin")
    job = bulk.prepare(ctx, admin, "delete", {"confirm": "delete"}, ids=[customer_id])
    ctx.commit()
    bulk.run(ctx, job)
    assert job.result["changed"] == 1
    assert leftovers(ctx, customer_id) == [0, 0, 0]
    assert not stored.exists()


def test_files_stay_when_the_delete_rolls_back(ctx, folder):
    customer_id, stored = a_customer_with_children(ctx, folder)
    files.remove_after_commit(ctx, folder, [stored.name])
    ctx.rollback()
    ctx.commit()
    assert stored.exists()
