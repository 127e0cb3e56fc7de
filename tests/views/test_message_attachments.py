"""An e-mailed invoice's message shows the file it carried, and gives it as it was sent, within the
user's scope (another reseller's message, or a file of another message: 404)."""
import uuid

from sqlalchemy import select

from app.extensions import db
from app.models import Message, TaxRate
from app.services.billing import documents, invoices
from tests import factories


def test_the_message_lists_its_file_and_gives_it_back(app, login):
    with app.app_context():
        admin = factories.user("admin")
        customer = factories.customer(email="ada@example.com", reseller_id=factories.reseller_id("Reseller A"))
        zero = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        invoice = invoices.charge(db.session, admin, customer.id, {"description": "Visit", "amount": "10.00",
                                                                   "tax_rate_id": zero}, str(uuid.uuid4()))
        documents.email_invoice(db.session, admin, invoice.id, {"to": "ada@example.com"}, str(uuid.uuid4()),
                                app.config)
        message_id = db.session.scalar(select(Message.id).where(Message.customer_id == customer.id))
        number = invoice.number
    page = login("admin").get(f"/messages/show/{message_id}").get_data(as_text=True)
    assert 'id="attachments"' in page and f"invoice-{number}.pdf" in page
    link = f"/messages/show/{message_id}/files/"
    start = page.index(link)
    url = page[start:page.index('"', start)]
    pdf = login("reseller_a").get(url)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and pdf.mimetype == "application/pdf"
    assert login("reseller_b").get(url).status_code == 404
    assert login("admin").get(f"/messages/show/{message_id}/files/999999").status_code == 404
