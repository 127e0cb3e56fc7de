"""A customer's services (iBill): name, price, billing cycle, status; scoped and audited."""
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.models import AuditEntry, CustomerService
from app.services.customers.services import (
    create_service,
    delete_service,
    update_service,
)
from app.services.errors import Invalid, NotFound
from tests import factories as f


def test_add_change_and_remove_a_service_with_each_step_audited(ctx):
    c = f.customer().id
    s = create_service(ctx, f.user("staff"), c, {"name": "Fibre 900", "price": "39.99", "billing_cycle": "monthly"})
    assert (s.price, s.status) == (Decimal("39.99"), "active")
    update_service(ctx, f.user("staff"), s.id, {"status": "cancelled"})
    delete_service(ctx, f.user("admin"), s.id)
    actions = ctx.scalars(select(AuditEntry.action).where(AuditEntry.entity == "service", AuditEntry.customer_id == c)
                          .order_by(AuditEntry.id)).all()
    assert actions == ["create", "update", "delete"]


@pytest.mark.parametrize("data, field", [
    ({"price": "1"}, "name"), ({"name": " ", "price": "1"}, "name"), ({"name": "x" * 121, "price": "1"}, "name"),
    ({"name": "A", "price": "-5"}, "price"), ({"name": "A", "price": "1.005"}, "price"),
    ({"name": "A", "price": "1e12"}, "price"), ({"name": "A", "price": "NaN"}, "price"),
    ({"name": "A", "price": "lots"}, "price"), ({"name": "A"}, "price"),
    ({"name": "A", "price": "1", "billing_cycle": "weekly"}, "billing_cycle"),
    ({"name": "A", "price": "1", "status": "paused"}, "status"),
    ({"name": "A", "price": "1", "colour": "red"}, "colour"),
])
def test_bad_values_are_refused_with_the_field_and_nothing_saved(ctx, data, field):
    c = f.customer().id
    with pytest.raises(Invalid) as e:
        create_service(ctx, f.user("admin"), c, data)
    assert field in e.value.errors
    assert ctx.scalar(select(CustomerService.id)) is None


def test_another_resellers_customer_and_service_are_not_found(ctx):
    theirs = f.customer(reseller_id=f.reseller_id("Reseller B")).id
    with pytest.raises(NotFound):
        create_service(ctx, f.user("reseller_a"), theirs, {"name": "A", "price": "1"})
    s = create_service(ctx, f.user("admin"), theirs, {"name": "A", "price": "1"})
    with pytest.raises(NotFound):
        update_service(ctx, f.user("reseller_a"), s.id, {"status": "cancelled"})
    with pytest.raises(NotFound):
        delete_service(ctx, f.user("reseller_a"), s.id)
