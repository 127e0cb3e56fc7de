"""The cash-allocation settings: the company's write-off limit and default for using account credit
when an invoice is issued (Company settings, admins), and the customer's own choice (who posts money)."""
from decimal import Decimal

import pytest

from app.models import CompanySettings
from app.services import company
from app.services.billing import allocation
from app.services.customers.update import update_customer
from app.services.errors import Invalid
from tests import factories


def test_the_company_sets_the_write_off_limit_and_the_credit_default(ctx):
    admin = factories.user("admin")
    assert allocation.write_off_limit(ctx) == Decimal("5.00")
    changed = company.update(ctx, admin, {"write_off_limit": "2.50", "use_credit_default": "automatic"})
    assert set(changed) == {"write_off_limit", "use_credit_default"}
    assert allocation.write_off_limit(ctx) == Decimal("2.50")
    assert allocation.use_credit(ctx, factories.customer()) == "automatic"
    company.update(ctx, admin, {"write_off_limit": "", "use_credit_default": ""})
    assert allocation.write_off_limit(ctx) == Decimal("5.00")
    assert ctx.get(CompanySettings, 1).use_credit_default is None


@pytest.mark.parametrize("data, field", [({"write_off_limit": "-1"}, "write_off_limit"),
                                         ({"write_off_limit": "1.234"}, "write_off_limit"),
                                         ({"write_off_limit": "lots"}, "write_off_limit"),
                                         ({"use_credit_default": "always"}, "use_credit_default")])
def test_bad_company_settings_are_refused(ctx, data, field):
    with pytest.raises(Invalid) as raised:
        company.update(ctx, factories.user("admin"), data)
    assert field in raised.value.errors


def test_the_customer_chooses_how_its_credit_is_used(ctx):
    customer = factories.customer()
    update_customer(ctx, factories.user("finance"), customer.id, {"use_credit": "ask"})
    assert allocation.use_credit(ctx, customer) == "ask"
    update_customer(ctx, factories.user("finance"), customer.id, {"use_credit": ""})
    assert customer.use_credit is None and allocation.use_credit(ctx, customer) == "off"
    with pytest.raises(Invalid) as raised:
        update_customer(ctx, factories.user("finance"), customer.id, {"use_credit": "sometimes"})
    assert "use_credit" in raised.value.errors


def test_only_who_posts_money_changes_how_credit_is_used(ctx):
    customer = factories.customer()
    with pytest.raises(Invalid) as raised:
        update_customer(ctx, factories.user("staff"), customer.id, {"use_credit": "automatic"})
    assert "use_credit" in raised.value.errors
    ctx.rollback()
    update_customer(ctx, factories.user("staff"), customer.id, {"use_credit": "", "surname": "Other"})
