"""Files attached to a customer: stored under a random name inside one folder, read in chunks
up to a limit, only allowed types, names cleaned, scope on every call, nothing half-written."""
import hashlib
import io

import pytest
from sqlalchemy import func, select

from app.models.files import CustomerFile
from app.services.customers import files
from app.services.errors import Invalid, NotFound
from tests import factories as f

PDF = b"%PDF-1.4\n" + b"x" * 200_000 + b"\n%%EOF\n"  # several chunks


@pytest.fixture
def people(ctx):
    return {name: f.user(name) for name in ("admin", "staff", "reseller_a", "reseller_b")}


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "files"


class Endless(io.RawIOBase):
    """A stream that would give `total` bytes (a lot), counting what was actually read."""

    def __init__(self, total=10 * 1024 ** 3):
        self.total, self.read_bytes, self.calls = total, 0, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        self.calls += 1
        n = min(len(buffer), self.total - self.read_bytes)
        buffer[:n] = b"a" * n
        self.read_bytes += n
        return n


class Untouched(io.RawIOBase):
    def readable(self):
        return True

    def readinto(self, buffer):
        raise AssertionError("the stream should not have been read")


def on_disk(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def attach(ctx, actor, customer_id, data, name, folder, **kw):
    return files.attach(ctx, actor, customer_id, io.BytesIO(data), name, folder, **kw)


def count(ctx):
    return ctx.scalar(select(func.count()).select_from(CustomerFile))


def test_a_file_is_stored_under_a_random_name_with_its_size_hash_and_type(ctx, people, folder):
    c = f.customer()
    record = attach(ctx, people["staff"], c.id, PDF, "Quote 2024.pdf", folder)
    ctx.expire_all()
    record = ctx.get(CustomerFile, record.id)
    assert (record.customer_id, record.filename, record.content_type) == (c.id, "Quote 2024.pdf", "application/pdf")
    assert (record.size, record.sha256) == (len(PDF), hashlib.sha256(PDF).hexdigest())
    assert record.uploaded_by == "staff" and record.uploaded_at is not None
    assert len(record.stored_name) == 32 and int(record.stored_name, 16) >= 0
    assert on_disk(folder) == [record.stored_name]  # no temporary file left behind
    path = files.path_of(record, folder)
    assert path == folder.resolve() / record.stored_name and path.read_bytes() == PDF


def test_files_are_listed_newest_first_found_by_id_and_deleted_with_their_bytes(ctx, people, folder):
    c, other = f.customer(), f.customer()
    first = attach(ctx, people["staff"], c.id, b"one", "one.txt", folder)
    second = attach(ctx, people["staff"], c.id, b"two", "two.csv", folder)
    attach(ctx, people["staff"], other.id, b"three", "three.txt", folder)
    assert [x.id for x in files.files_for(ctx, people["admin"], c.id)] == [second.id, first.id]
    assert files.get_file(ctx, people["admin"], first.id).filename == "one.txt"
    assert second.content_type == "text/csv"

    path = files.path_of(first, folder)
    assert files.delete_file(ctx, people["admin"], first.id, folder) == c.id
    assert not path.exists()
    assert [x.id for x in files.files_for(ctx, people["admin"], c.id)] == [second.id]
    with pytest.raises(NotFound):
        files.get_file(ctx, people["admin"], first.id)
    with pytest.raises(NotFound):
        files.delete_file(ctx, people["admin"], first.id, folder)


def test_deleting_a_file_whose_bytes_are_already_gone_is_not_an_error(ctx, people, folder):
    c = f.customer()
    record = attach(ctx, people["staff"], c.id, b"hello", "a.txt", folder)
    files.path_of(record, folder).unlink()
    assert files.delete_file(ctx, people["staff"], record.id, folder) == c.id
    assert count(ctx) == 0


def test_a_file_over_the_limit_is_refused_without_reading_it_all(ctx, people, folder):
    c = f.customer()
    stream = Endless()
    with pytest.raises(Invalid) as e:
        files.attach(ctx, people["staff"], c.id, stream, "huge.pdf", folder, max_bytes=1024 * 1024)
    assert "too big" in e.value.errors["file"][0] and "1 MB" in e.value.errors["file"][0]
    assert stream.read_bytes == 1024 * 1024 + 1  # stopped one byte past the limit
    assert on_disk(folder) == [] and count(ctx) == 0


def test_a_file_of_exactly_the_limit_is_accepted(ctx, people, folder):
    c = f.customer()
    stream = Endless(total=1000)
    record = files.attach(ctx, people["staff"], c.id, stream, "edge.txt", folder, max_bytes=1000)
    assert record.size == 1000 and stream.read_bytes == 1000


def test_an_empty_file_is_refused(ctx, people, folder):
    c = f.customer()
    with pytest.raises(Invalid) as e:
        attach(ctx, people["staff"], c.id, b"", "empty.pdf", folder)
    assert e.value.errors["file"] == ["The file is empty."]
    assert on_disk(folder) == [] and count(ctx) == 0


@pytest.mark.parametrize("name", ["<script>.html", "run.exe", "page.HTM", "archive.pdf.zip", "noextension", ".pdf",
                                  "", None])
def test_other_types_are_refused_before_reading_and_the_message_names_the_allowed_ones(ctx, people, folder, name):
    c = f.customer()
    with pytest.raises(Invalid) as e:
        files.attach(ctx, people["staff"], c.id, Untouched(), name, folder)
    message = e.value.errors["file"][0]
    assert "Allowed types:" in message and "pdf" in message and "xlsx" in message
    assert on_disk(folder) == [] and count(ctx) == 0


def test_extensions_are_case_blind_and_the_allowed_types_can_be_configured(ctx, people, folder):
    c = f.customer()
    assert attach(ctx, people["staff"], c.id, b"img", "SCAN.JPG", folder).content_type == "image/jpeg"
    assert attach(ctx, people["staff"], c.id, b"x", "a.PdF", folder, allowed={".PDF"}).filename == "a.PdF"
    with pytest.raises(Invalid) as e:
        attach(ctx, people["staff"], c.id, b"x", "a.txt", folder, allowed="pdf, .png")
    assert "Allowed types: pdf, png." in e.value.errors["file"][0]


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("..\\..\\windows\\win.ini.txt", "win.ini.txt"),
    ("/abs/path/report.pdf", "report.pdf"),
    ("....hidden.pdf", "hidden.pdf"),
    ("evil\u202egpj.exe.pdf", "evilgpj.exe.pdf"),   # the right-to-left override is dropped
    ("tab\tand\nnewline\x00.pdf", "tabandnewline.pdf"),
    ('a<b>"c":d|e?f*.pdf', "a_b__c__d_e_f_.pdf"),
    ("con.pdf", "_con.pdf"),
])
def test_names_are_made_safe_and_the_file_lands_inside_the_folder(ctx, people, folder, name, expected):
    c = f.customer()
    record = attach(ctx, people["staff"], c.id, b"data", name, folder)
    assert record.filename == expected
    assert on_disk(folder) == [record.stored_name]
    assert files.path_of(record, folder).parent == folder.resolve()
    assert not (folder.parent / "etc").exists() and not (folder.parent / "passwd.pdf").exists()


@pytest.mark.parametrize("name, expected", [
    ("Devis été 2024 — Zoë.pdf", "Devis été 2024 - Zoë.pdf"),
    ("日本語の請求書.pdf", "日本語の請求書.pdf"),
    ("Счёт №5.xlsx", "Счёт No5.xlsx"),  # NFKC: the numero sign becomes "No"
    ("ﬁle．pdf", "file.pdf"),  # NFKC: ligature and full-width dot
])
def test_unicode_names_stay_readable(ctx, people, folder, name, expected):
    c = f.customer()
    record = attach(ctx, people["staff"], c.id, b"data", name, folder)
    ctx.expire_all()
    assert ctx.get(CustomerFile, record.id).filename == expected


def test_a_very_long_name_is_cut_to_255_characters_keeping_the_extension(ctx, people, folder):
    c = f.customer()
    record = attach(ctx, people["staff"], c.id, b"data", "é" * 400 + ".docx", folder)
    assert len(record.filename) == 255 and record.filename.endswith("é.docx")


def test_another_resellers_customer_and_files_are_not_found(ctx, people, resellers, folder):
    theirs = f.customer(reseller_id=resellers["Reseller B"])
    ours = f.customer(reseller_id=resellers["Reseller A"])
    record = attach(ctx, people["reseller_b"], theirs.id, b"secret", "b.pdf", folder)
    mine = attach(ctx, people["reseller_a"], ours.id, b"mine", "a.pdf", folder)
    for call in (lambda: attach(ctx, people["reseller_a"], theirs.id, b"x", "x.pdf", folder),
                 lambda: files.files_for(ctx, people["reseller_a"], theirs.id),
                 lambda: files.get_file(ctx, people["reseller_a"], record.id),
                 lambda: files.delete_file(ctx, people["reseller_a"], record.id, folder)):
        with pytest.raises(NotFound):
            call()
    ctx.rollback()
    assert files.path_of(record, folder).read_bytes() == b"secret"
    assert sorted(on_disk(folder)) == sorted([record.stored_name, mine.stored_name])
    assert [x.id for x in files.files_for(ctx, people["reseller_a"], ours.id)] == [mine.id]
    assert files.get_file(ctx, people["admin"], record.id).id == record.id


@pytest.mark.parametrize("file_id", [0, -1, "abc", None, 2 ** 40])
def test_malformed_ids_are_not_found(ctx, people, file_id):
    with pytest.raises(NotFound):
        files.get_file(ctx, people["admin"], file_id)


def test_a_failed_commit_leaves_no_file_on_disk(ctx, people, folder, monkeypatch):
    c = f.customer()

    def refuse(session):
        raise RuntimeError("database went away")
    monkeypatch.setattr(files, "commit", refuse)
    with pytest.raises(RuntimeError):
        attach(ctx, people["staff"], c.id, PDF, "a.pdf", folder)
    assert on_disk(folder) == []
    monkeypatch.undo()
    assert count(ctx) == 0


def test_a_row_the_database_refuses_leaves_no_file_on_disk(ctx, people, folder, monkeypatch):
    c = f.customer()
    first = attach(ctx, people["staff"], c.id, b"first", "first.pdf", folder)
    stored = first.stored_name
    files.path_of(first, folder).unlink()  # so the next upload may take the same name on disk
    monkeypatch.setattr(files.secrets, "token_hex", lambda n: stored)
    with pytest.raises(Invalid):  # the unique stored_name
        attach(ctx, people["staff"], c.id, b"second", "second.pdf", folder)
    assert on_disk(folder) == []
    assert count(ctx) == 1


def test_a_tampered_stored_name_never_leaves_the_folder(ctx, people, folder):
    for bad in ("../../etc/passwd", "/etc/passwd", "", "A" * 32, "0" * 31):
        with pytest.raises(NotFound):
            files.path_of(CustomerFile(stored_name=bad), folder)


def test_settings_default_to_the_instance_folder_10_mb_and_the_office_types(tmp_path):
    s = files.settings_from({}, tmp_path)
    assert (s.folder, s.max_bytes) == (tmp_path / "files", 10 * 1024 * 1024)
    assert s.allowed == {"pdf", "png", "jpg", "jpeg", "gif", "webp", "txt", "csv", "doc", "docx", "xls", "xlsx",
                         "odt", "ods"}
    s = files.settings_from({"FILES_FOLDER": str(tmp_path / "x"), "FILES_MAX_BYTES": 5,
                             "FILES_ALLOWED_TYPES": "PDF,.txt"}, "/nowhere")
    assert (s.folder, s.max_bytes, s.allowed) == (tmp_path / "x", 5, {"pdf", "txt"})


def test_sizes_read_as_people_write_them():
    assert [files.human_size(n) for n in (0, 1, 1023, 1536, 10 * 1024 * 1024, 3 * 1024 ** 3)] == \
        ["0 bytes", "1 byte", "1023 bytes", "1.5 KB", "10 MB", "3 GB"]


def test_deleted_customers_bytes_can_be_found_and_removed(ctx, people, folder):
    c, other = f.customer(), f.customer()
    a = attach(ctx, people["staff"], c.id, b"a", "a.pdf", folder)
    b = attach(ctx, people["staff"], c.id, b"b", "b.pdf", folder)
    keep = attach(ctx, people["staff"], other.id, b"k", "k.pdf", folder)
    names = files.stored_names_of(ctx, [c.id])
    assert sorted(names) == sorted([a.stored_name, b.stored_name])
    assert files.remove_stored(folder, [*names, "../escape", "0" * 32]) == 2
    assert on_disk(folder) == [keep.stored_name]
