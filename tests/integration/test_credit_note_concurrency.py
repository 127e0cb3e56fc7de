"""Credit notes under concurrency on PostgreSQL: two credit notes of most of one invoice at once,
both past their checks before either takes the customer's lock. One is issued; the other is told
what is left to credit, and the invoice is never credited beyond its total."""
import uuid

from sqlalchemy import func, select

from app.extensions import db
from app.models import CreditNote, TaxRate
from app.services.billing import credit_notes, ledger
from app.services.errors import Invalid
from tests.integration.test_money_concurrency import _race, invoice  # noqa: F401  (the fixture)


def test_two_credit_notes_racing_never_credit_the_invoice_beyond_its_total(app, monkeypatch, invoice):  # noqa: F811
    invoice_id, _, _ = invoice
    with app.app_context():
        zero = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))

    def credit(session, actor):
        return credit_notes.create(session, actor, {"description": "Refund", "lines": [
            {"description": "Refund", "quantity": 1, "unit_price": "70.00", "tax_rate_id": zero}]},
            str(uuid.uuid4()), invoice_id=invoice_id).number
    outcomes = _race(app, monkeypatch, credit, credit)
    errors = [o for o in outcomes if isinstance(o, Invalid)]
    assert len(errors) == 1 and "£30.00" in errors[0].messages, outcomes
    with app.app_context():
        assert db.session.scalar(select(func.count(CreditNote.id))) == 1
        assert credit_notes.credited(db.session, invoice_id) == 70
        assert ledger.check(db.session) == []
