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


# ---- one delete for one customer and for many: the same guards ---------------------------------
from decimal import Decimal  # noqa: E402

from sqlalchemy import Column, Integer, MetaData, Table, insert  # noqa: E402

from app.models import Customer, CustomerService  # noqa: E402
from app.services.customers import delete as deleting  # noqa: E402
from app.services.errors import Forbidden, Invalid  # noqa: E402


def exists(ctx, customer_id) -> bool:
    ctx.expire_all()
    return ctx.get(Customer, customer_id) is not None


def test_a_user_without_a_delete_permission_cannot_delete_one_customer(ctx):
    customer_id = f.customer().id
    with pytest.raises(Forbidden):
        delete_customer(ctx, f.user("staff"), customer_id)
    ctx.rollback()
    assert exists(ctx, customer_id)


def test_deleting_one_customer_removes_its_services_and_audits_them(ctx):
    customer_id = f.customer().id
    ctx.add(CustomerService(customer_id=customer_id, name="Broadband", price=Decimal("25.00"), status="active"))
    ctx.commit()
    delete_customer(ctx, f.user("admin"), customer_id)
    assert ctx.scalar(select(func.count()).select_from(CustomerService)
                      .where(CustomerService.customer_id == customer_id)) == 0
    assert ctx.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.customer_id == customer_id, AuditEntry.entity == "service", AuditEntry.action == "delete")) == 1


@pytest.fixture
def money_table(ctx, monkeypatch):
    """A table registered as holding financial documents (as invoices will be)."""
    table = Table("test_invoice", MetaData(), Column("id", Integer, primary_key=True),
                  Column("customer_id", Integer, nullable=False))  # no foreign key: the guard, not the database, refuses
    table.create(ctx.get_bind())
    monkeypatch.setattr(deleting, "FINANCIAL_DOCUMENTS", [table])
    yield table
    ctx.rollback()
    table.drop(ctx.get_bind())


def test_a_customer_with_a_financial_document_is_refused_by_both_deletes(ctx, money_table):
    customer_id = f.customer().id
    ctx.execute(insert(money_table).values(customer_id=customer_id))
    ctx.commit()
    with pytest.raises(Invalid):
        delete_customer(ctx, f.user("admin"), customer_id)
    ctx.rollback()
    assert exists(ctx, customer_id)
    job = bulk.prepare(ctx, f.user("admin"), "delete", {"confirm": "delete"}, ids=[customer_id])
    ctx.commit()
    bulk.run(ctx, job)
    assert job.result["changed"] == 0 and job.result["skipped"] == {deleting.HAS_MONEY: 1}
    assert exists(ctx, customer_id)


@pytest.fixture
def deleter(app, ctx):
    """A Reseller-A user whose role an admin made in the browser: the Reseller's permissions and
    bulk_delete on customers."""
    from tests.roles import role_user
    with role_user(app, ctx, "Deleter", "Reseller", [("bulk_delete", "CustomerView")],
                   reseller_id=f.reseller_id("Reseller A")) as user:
        yield user


def test_a_role_given_the_delete_permission_deletes_within_its_scope(ctx, deleter):
    own = f.customer(reseller_id=f.reseller_id("Reseller A")).id
    other = f.customer(reseller_id=f.reseller_id("Reseller B")).id
    job = bulk.prepare(ctx, deleter, "delete", {"confirm": "delete"}, ids=[own, other])
    ctx.commit()
    bulk.run(ctx, job)
    assert job.result["changed"] == 1
    assert not exists(ctx, own) and exists(ctx, other)
