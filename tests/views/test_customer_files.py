"""The Files tab of the customer's page: upload, list, download (as an attachment, never
sniffed), delete (admins only), and another reseller's files are 404."""
import hashlib
import io
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.files import CustomerFile
from app.services.customers import files
from tests import factories as f

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n%%EOF\n"


@pytest.fixture(autouse=True)
def folder(app, tmp_path, monkeypatch):
    """Uploads go to a folder of the test's own."""
    path = tmp_path / "files"
    monkeypatch.setitem(app.config, "FILES_FOLDER", str(path))
    return path


@pytest.fixture
def customer(app, resellers):
    with app.app_context():
        return f.customer(first_name="Ada", surname="Files", reseller_id=resellers["Reseller A"]).id


@pytest.fixture
def theirs(app, resellers):
    with app.app_context():
        return f.customer(first_name="Bea", surname="Other", reseller_id=resellers["Reseller B"]).id


def upload(browser, pk, data=PDF, name="report.pdf"):
    return browser.post(f"/customers/show/{pk}/files", {"file": (io.BytesIO(data), name)},
                        content_type="multipart/form-data")


def files_tab(browser, pk):
    r = browser.get(f"/customers/show/{pk}?tab=files")
    assert r.status_code == 200, r.status_code
    return r.get_data(as_text=True)


def rows(app, pk):
    with app.app_context():
        return db.session.scalars(select(CustomerFile).where(CustomerFile.customer_id == pk)
                                  .order_by(CustomerFile.id)).all()


def test_an_uploaded_file_is_listed_on_the_files_tab(app, login, customer, folder):
    staff = login("staff")
    r = upload(staff, customer, name="Quote <2024>.pdf")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/customers/show/{customer}?tab=files")
    [record] = rows(app, customer)
    assert (record.filename, record.size, record.uploaded_by) == ("Quote _2024_.pdf", len(PDF), "staff")
    assert record.sha256 == hashlib.sha256(PDF).hexdigest()
    assert (folder / record.stored_name).read_bytes() == PDF

    html = files_tab(staff, customer)
    assert "attached." in html  # the flash
    assert 'id="file-form"' in html and 'enctype="multipart/form-data"' in html
    assert f'href="/customers/files/{record.id}"' in html and "Quote _2024_.pdf" in html
    assert "<2024>" not in html
    assert "Allowed types: csv, doc, docx" in html and "At most 10 MB" in html
    tab = html[html.index('id="files"'):]
    assert "staff" in tab and "bytes" in tab


def test_a_download_is_the_same_bytes_as_an_attachment_never_sniffed(app, login, customer):
    staff = login("staff")
    upload(staff, customer, name="Devis été.pdf")
    [record] = rows(app, customer)
    r = login("readonly").get(f"/customers/files/{record.id}")
    assert r.status_code == 200
    assert r.data == PDF
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.mimetype == "application/pdf"
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Devis%20%C3%A9t%C3%A9.pdf" in disposition


def test_a_refused_file_says_why_and_stores_nothing(app, login, customer, folder, monkeypatch):
    monkeypatch.setitem(app.config, "FILES_MAX_BYTES", 1024)
    staff = login("staff")
    for data, name, message in ((b"<script>alert(1)</script>", "<script>.html", "Allowed types:"),
                                (b"", "empty.pdf", "The file is empty."),
                                (b"x" * 2048, "big.pdf", "The file is too big: at most 1 KB.")):
        r = upload(staff, customer, data, name)
        assert r.status_code == 302
        assert message in files_tab(staff, customer)
    assert rows(app, customer) == []
    assert not folder.exists() or list(folder.iterdir()) == []


def test_no_file_chosen_is_refused_with_a_message(app, login, customer):
    staff = login("staff")
    r = staff.post(f"/customers/show/{customer}/files", {}, content_type="multipart/form-data")
    assert r.status_code == 302
    assert "Choose a file to attach." in files_tab(staff, customer)
    r = upload(staff, customer, b"data", "")
    assert "Choose a file to attach." in files_tab(staff, customer)
    assert rows(app, customer) == []


def test_read_only_users_cannot_upload(app, login, customer):
    readonly = login("readonly")
    html = files_tab(readonly, customer)
    assert 'id="file-form"' not in html
    assert upload(readonly, customer).status_code in (302, 403)
    assert rows(app, customer) == []


def test_staff_cannot_delete_a_file_but_an_admin_can(app, login, customer, folder):
    staff = login("staff")
    upload(staff, customer)
    [record] = rows(app, customer)
    html = files_tab(staff, customer)
    assert "/delete" not in html[html.index('id="files"'):]
    assert staff.post(f"/customers/files/{record.id}/delete").status_code in (302, 403)
    assert len(rows(app, customer)) == 1 and (folder / record.stored_name).exists()

    admin = login("admin")
    assert f'action="/customers/files/{record.id}/delete"' in files_tab(admin, customer)
    r = admin.post(f"/customers/files/{record.id}/delete")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/customers/show/{customer}?tab=files")
    assert rows(app, customer) == [] and not (folder / record.stored_name).exists()
    assert "File deleted." in files_tab(admin, customer)
    assert admin.get(f"/customers/files/{record.id}").status_code == 404


def test_another_resellers_files_are_not_found(app, login, customer, theirs, folder):
    with app.app_context():
        record = files.attach(db.session, f.user("admin"), theirs, io.BytesIO(b"B's secret"), "b.pdf", folder)
        file_id = record.id
    reseller = login("reseller_a")
    assert reseller.get(f"/customers/files/{file_id}").status_code == 404
    assert reseller.post(f"/customers/files/{file_id}/delete").status_code in (403, 404)  # no can_delete either
    assert upload(reseller, theirs).status_code == 404
    assert reseller.get(f"/customers/show/{theirs}?tab=files").status_code == 404
    assert len(rows(app, theirs)) == 1
    # their own customer's files work as usual
    assert upload(reseller, customer).status_code == 302
    [own] = rows(app, customer)
    assert reseller.get(f"/customers/files/{own.id}").status_code == 200
    assert login("reseller_b").get(f"/customers/files/{file_id}").data == b"B's secret"


def test_a_file_whose_bytes_are_missing_is_not_found(app, login, customer, folder):
    staff = login("staff")
    upload(staff, customer)
    [record] = rows(app, customer)
    (folder / record.stored_name).unlink()
    assert staff.get(f"/customers/files/{record.id}").status_code == 404


def test_the_routes_need_a_login(app, customer):
    client = app.test_client()
    r = client.get(f"/customers/show/{customer}?tab=files")
    assert r.status_code in (302, 401, 403)
    assert client.get("/customers/files/1").status_code in (302, 401, 403)
    assert re.search(r"login", client.get("/customers/files/1").headers.get("Location", "login"))
