"""The customer list's bulk edit changes the billing cycle or the next billing date of the chosen
customers' services that are not cancelled (issue 17): set-based, audited per service; a cycle
change leaves one-off services alone, and a date within a billed period is not taken."""
import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.models import AuditEntry, CustomerService, ServicePeriod
from app.services.customers import bulk
from app.services.customers.services import create_service
from app.services.errors import Invalid
from tests import factories as f


def _services(ctx, customer):
    admin = f.user("admin")
    made = {}
    for name, cycle, status in (("Fibre", "monthly", "active"), ("Hosting", "quarterly", "suspended"),
                                ("Set-up", "one-off", "active"), ("Old line", "monthly", "cancelled")):
        made[name] = create_service(ctx, admin, customer, {"name": name, "price": "10", "billing_cycle": cycle,
                                                           "status": status, "started_on": "2027-01-05"}).id
    return made


def _edit(ctx, ids, **params):
    return bulk.start_bulk_action(ctx, f.user("admin"), "edit", params, str(uuid.uuid4()), ids=ids)


def test_a_cycle_change_moves_the_recurring_services_that_are_not_cancelled(ctx):
    a, b = f.customer().id, f.customer().id
    made = {**{f"a {k}": v for k, v in _services(ctx, a).items()}, **{f"b {k}": v for k, v in _services(ctx, b).items()}}
    job = _edit(ctx, [a, b], billing_cycle="annually")
    assert job.result["changed"] == 2 and job.result["services"] == 4
    ctx.expire_all()
    cycles = {name: ctx.get(CustomerService, pk).billing_cycle for name, pk in made.items()}
    assert cycles == {"a Fibre": "annually", "a Hosting": "annually", "a Set-up": "one-off", "a Old line": "monthly",
                      "b Fibre": "annually", "b Hosting": "annually", "b Set-up": "one-off", "b Old line": "monthly"}
    audited = ctx.scalars(select(AuditEntry).where(AuditEntry.entity == "service")
                          .where(AuditEntry.action == "update")).all()
    assert {e.entity_id for e in audited} == {made["a Fibre"], made["a Hosting"], made["b Fibre"], made["b Hosting"]}
    fibre = next(e for e in audited if e.entity_id == made["a Fibre"])
    assert (fibre.customer_id, fibre.changes) == (a, {"billing_cycle": ["monthly", "annually"]})


def test_a_next_billing_date_change_moves_the_billing_day_and_skips_a_service_billed_past_it(ctx):
    a = f.customer().id
    made = _services(ctx, a)
    ctx.add(ServicePeriod(service_id=made["Hosting"], starts_on=date(2027, 1, 5), ends_on=date(2027, 4, 4),
                          amount=Decimal("10")))
    ctx.commit()
    job = _edit(ctx, [a], next_billing_on="2027-03-01")
    assert job.result["services"] == 2
    assert job.result["skipped"] == {}
    ctx.expire_all()
    fibre, hosting = ctx.get(CustomerService, made["Fibre"]), ctx.get(CustomerService, made["Hosting"])
    assert (fibre.next_billing_on, fibre.billing_day) == (date(2027, 3, 1), 1)
    assert (hosting.next_billing_on, hosting.billing_day) == (date(2027, 1, 5), 5)  # billed up to 4 Apr
    setup = ctx.get(CustomerService, made["Set-up"])
    assert setup.next_billing_on == date(2027, 3, 1)  # a one-off not yet billed is billed on the new date
    assert ctx.get(CustomerService, made["Old line"]).next_billing_on == date(2027, 1, 5)
    entry = ctx.scalars(select(AuditEntry).where(AuditEntry.entity == "service",
                                                 AuditEntry.entity_id == made["Fibre"],
                                                 AuditEntry.action == "update")).one()
    assert entry.changes == {"next_billing_on": ["2027-01-05", "2027-03-01"], "billing_day": [5, 1]}


def test_a_customer_whose_services_change_is_counted_changed(ctx):
    a, none = f.customer().id, f.customer().id
    _services(ctx, a)
    job = _edit(ctx, [a, none], billing_cycle="monthly")
    assert job.result["changed"] == 1 and job.result["services"] == 1  # Hosting: quarterly -> monthly
    assert job.result["skipped"] == {"nothing to change": 1}


@pytest.mark.parametrize("params, field", [({"billing_cycle": "one-off"}, "billing_cycle"),
                                           ({"billing_cycle": "weekly"}, "billing_cycle"),
                                           ({"next_billing_on": "2027-02-30"}, "next_billing_on")])
def test_bad_billing_values_are_refused_and_nothing_starts(ctx, params, field):
    a = f.customer().id
    with pytest.raises(Invalid) as e:
        _edit(ctx, [a], **params)
    assert field in e.value.errors


def test_the_confirmation_counts_the_services_that_would_change(ctx):
    a, b = f.customer().id, f.customer().id
    _services(ctx, a)
    _services(ctx, b)
    counts = bulk.service_counts(ctx, f.user("admin"), ids=[a, b])
    assert counts == {"not_cancelled": 6, "recurring": 4}
