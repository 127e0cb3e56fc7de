"""Files attached to a customer: upload, list, download, delete.

The bytes live on disk in one folder (`FILES_FOLDER`, by default `<instance>/files`), each
under a random name (`stored_name`, 32 hex characters) that nothing the user sent can
influence; the name the user gave is kept, cleaned, in `filename`, for the list and as the
download's name. An upload is read in chunks into a temporary file in that folder, given its
final name only once it is complete and within the size limit, and removed again if the
database refuses the row: a file on disk without its row, or half a file, is never left.

Settings (`settings_from(config, instance_path)`): FILES_FOLDER, FILES_MAX_BYTES (10 MB),
FILES_ALLOWED_TYPES (a set of extensions, or a comma-separated string).
"""
import hashlib
import logging
import mimetypes
import os
import re
import secrets
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event, select
from sqlalchemy.orm import Session
from werkzeug.utils import secure_filename

from app.models import Customer
from app.models.files import CustomerFile
from app.services.db import commit, in_ids
from app.services.errors import Invalid, NotFound
from app.services.scope import get_customer, load_in_scope

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_ALLOWED_TYPES = frozenset({"pdf", "png", "jpg", "jpeg", "gif", "webp", "txt", "csv",
                                   "doc", "docx", "xls", "xlsx", "odt", "ods"})
CHUNK = 64 * 1024
MAX_FILENAME = 255
# Types Python's own table may not know (it depends on the system's mime.types).
CONTENT_TYPES = {
    "webp": "image/webp",
    "csv": "text/csv",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}
# Punctuation kept in a file's name besides letters, digits and combining marks.
_KEPT = set(" ._-()")
_STORED_NAME = re.compile(r"[0-9a-f]{32}")
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


@dataclass(frozen=True)
class FileSettings:
    folder: Path
    max_bytes: int
    allowed: frozenset[str]


def settings_from(config, instance_path) -> FileSettings:
    """The upload settings from a config mapping (a Flask app's config, say)."""
    folder = config.get("FILES_FOLDER") or Path(instance_path) / "files"
    max_bytes = int(config.get("FILES_MAX_BYTES") or DEFAULT_MAX_BYTES)
    return FileSettings(Path(folder), max_bytes, normalise_types(config.get("FILES_ALLOWED_TYPES")))


def normalise_types(allowed) -> frozenset[str]:
    """{"PDF", ".png"} or "pdf, .png" -> {"pdf", "png"}; None -> the default set."""
    if allowed is None:
        return DEFAULT_ALLOWED_TYPES
    if isinstance(allowed, str):
        allowed = allowed.split(",")
    return frozenset(t.strip().lstrip(".").lower() for t in allowed if t and t.strip().lstrip("."))


def human_size(size: int) -> str:
    """1536 -> "1.5 KB", 10485760 -> "10 MB" (1024-based, as file managers show it)."""
    if size < 1024:
        return f"{size} byte{'' if size == 1 else 's'}"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            break
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"


def safe_filename(name) -> str:
    """A name fit to show and to offer as a download's name, readable in any script.

    NFKC-normalised; only the last part of a path is kept (either slash); control, format
    (bidi overrides), private-use and unassigned characters are dropped; anything but letters,
    digits, marks, spaces, dashes and . _ ( ) becomes "_"; no leading dots or spaces, no
    trailing dots or spaces; at most 255 characters, the extension kept. What is left empty
    falls back to werkzeug's secure_filename (ASCII), then to "file".
    """
    if not isinstance(name, str):
        return "file"
    name = unicodedata.normalize("NFKC", name)
    name = original = re.split(r"[/\\]", name)[-1]
    out = []
    for ch in name:
        full = unicodedata.category(ch)
        category = full[0]
        if category == "C":  # control, format (bidi overrides), surrogate, private use, unassigned
            continue
        if category in "LNM" or ch in _KEPT:
            out.append(ch)
        elif category == "Z":
            out.append(" ")
        elif full == "Pd":  # dashes
            out.append("-")
        else:
            out.append("_")
    name = re.sub(r"\s+", " ", "".join(out)).strip(" .")
    name = name.lstrip("._- ")
    if name.split(".")[0].upper() in _WINDOWS_DEVICES:
        name = "_" + name
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) < 16:
            name = stem[: MAX_FILENAME - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:MAX_FILENAME].rstrip(" .")
    # Nothing readable left (only symbols, say): werkzeug's ASCII-only cleaning of the
    # original, then a plain "file".
    return name or secure_filename(original)[:MAX_FILENAME] or "file"


def extension(filename: str) -> str:
    stem, dot, ext = filename.rpartition(".")
    return ext.lower() if dot and stem else ""


def content_type_of(filename: str) -> str:
    ext = extension(filename)
    if ext in CONTENT_TYPES:
        return CONTENT_TYPES[ext]
    guessed, _ = mimetypes.guess_type("x." + ext) if ext else (None, None)
    return guessed or "application/octet-stream"


def _types_text(allowed) -> str:
    return ", ".join(sorted(allowed))


def attach(session: Session, actor, customer_id, stream, filename, folder: Path, max_bytes: int = DEFAULT_MAX_BYTES,
           allowed=DEFAULT_ALLOWED_TYPES) -> CustomerFile:
    """Attach a file to a customer in `actor`'s scope (committed).

    `stream` is anything with read(n) (a werkzeug FileStorage's stream); it is read in chunks of
    at most 64 KB and never past `max_bytes` + 1. Raises NotFound outside the scope, Invalid
    ({"file": ...}) for a type not in `allowed`, an empty file or one over `max_bytes`.
    """
    customer = get_customer(session, actor, customer_id)
    allowed = normalise_types(allowed)
    name = safe_filename(filename)
    if extension(name) not in allowed:
        raise Invalid({"file": f"This type of file cannot be attached. Allowed types: {_types_text(allowed)}."})

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stored_name, size, digest = _receive(stream, folder, max_bytes)
    target = folder / stored_name
    try:
        record = CustomerFile(customer_id=customer.id, filename=name, stored_name=stored_name,
                              content_type=content_type_of(name), size=size, sha256=digest,
                              uploaded_by=getattr(actor, "username", None))
        session.add(record)
        commit(session)
    except BaseException:
        target.unlink(missing_ok=True)
        session.rollback()
        raise
    return record


def _receive(stream, folder: Path, max_bytes: int) -> tuple[str, int, str]:
    """Copy `stream` into `folder` under a new random name: (stored name, size, sha256)."""
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    size, digest = 0, hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            while True:
                # Never ask for more than one byte past the limit.
                chunk = stream.read(min(CHUNK, max_bytes + 1 - size))
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise Invalid({"file": f"The file is too big: at most {human_size(max_bytes)}."})
                digest.update(chunk)
                out.write(chunk)
            if size == 0:
                raise Invalid({"file": "The file is empty."})
            out.flush()
            os.fsync(out.fileno())
        while True:
            stored_name = secrets.token_hex(16)
            if not (folder / stored_name).exists():
                break
        os.replace(temp, folder / stored_name)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return stored_name, size, digest.hexdigest()


def files_for(session: Session, actor, customer_id, limit: int | None = None) -> list[CustomerFile]:
    """A customer's files, newest first; NotFound outside `actor`'s scope."""
    customer = get_customer(session, actor, customer_id)
    stmt = select(CustomerFile).where(CustomerFile.customer_id == customer.id).order_by(CustomerFile.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def get_file(session: Session, actor, file_id) -> CustomerFile:
    """One file whose customer `actor` may see; NotFound otherwise."""
    return load_in_scope(session, actor, CustomerFile, file_id, (Customer,), "No such file.")


def path_of(file: CustomerFile, folder: Path) -> Path:
    """Where a file's bytes are: always directly inside `folder` (NotFound for a bad stored name)."""
    name = file.stored_name or ""
    if not _STORED_NAME.fullmatch(name):
        raise NotFound("No such file.")
    root = Path(folder).resolve()
    path = (root / name).resolve()
    if path.parent != root:
        raise NotFound("No such file.")
    return path


def delete_file(session: Session, actor, file_id, folder: Path) -> int:
    """Delete a file (committed), then its bytes; returns its customer's id.

    Bytes already gone are not an error; bytes that cannot be removed are logged (the row
    is gone by then, and the file unreachable).
    """
    record = get_file(session, actor, file_id)
    customer_id = record.customer_id
    try:
        path = path_of(record, folder)
    except NotFound:
        path = None
    session.delete(record)
    commit(session)
    if path is not None:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            log.warning("Could not remove %s (customer file %s)", path, file_id, exc_info=True)
    return customer_id


def stored_names_of(session: Session, customer_ids) -> list[str]:
    """The stored names of these customers' files: for deleting customers, whose file rows go
    with them (ON DELETE CASCADE) but whose bytes must be removed after the commit."""
    ids = [int(i) for i in customer_ids]
    if not ids:
        return []
    return list(session.scalars(select(CustomerFile.stored_name).where(in_ids(session, CustomerFile.customer_id, ids))))


def remove_stored(folder: Path, stored_names) -> int:
    """Remove these files' bytes from `folder` (after their rows were deleted and committed);
    returns how many were removed. Missing ones are skipped, failures logged."""
    removed = 0
    root = Path(folder).resolve()
    for name in stored_names:
        if not _STORED_NAME.fullmatch(name or ""):
            continue
        try:
            (root / name).unlink()
            removed += 1
        except FileNotFoundError:
            pass
        except OSError:
            log.warning("Could not remove %s", root / name, exc_info=True)
    return removed


def remove_after_commit(session: Session, folder, stored_names) -> None:
    """Remove these files' bytes once the session's transaction commits (their rows were
    deleted in it); nothing is removed if it rolls back. See install()."""
    if stored_names:
        session.info.setdefault("files_to_remove", []).append((Path(folder), list(stored_names)))


def _after_commit(session) -> None:
    for folder, names in session.info.pop("files_to_remove", []):
        remove_stored(folder, names)


def _after_rollback(session) -> None:
    session.info.pop("files_to_remove", None)


def install(session_class) -> None:
    """Attach the after-commit removal to a Session class; idempotent."""
    if not event.contains(session_class, "after_commit", _after_commit):
        event.listen(session_class, "after_commit", _after_commit)
        event.listen(session_class, "after_rollback", _after_rollback)
