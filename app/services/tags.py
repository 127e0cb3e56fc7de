"""The tag list: unique names, a colour. Only roles that manage tags reach these."""
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Tag
from app.services import fields
from app.services.db import commit
from app.services.errors import FieldErrors, NotFound

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _clean(session: Session, data: dict, tag: Tag | None) -> dict:
    errors = FieldErrors()
    for key in data:
        if key not in ("name", "colour"):
            errors.add(key, "Unknown field.")
    name = fields.text(errors, "name", data.get("name", tag.name if tag else None), 60, required=True)
    colour = fields.text(errors, "colour", data.get("colour", tag.colour if tag else None), 7)
    if colour and not _COLOUR.match(colour):
        errors.add("colour", "Enter a colour as #rrggbb.")
    if name and "name" not in errors:
        clash = select(Tag.id).where(func.lower(Tag.name) == name.lower())
        if tag is not None:
            clash = clash.where(Tag.id != tag.id)
        if session.scalar(clash) is not None:
            errors.add("name", "A tag with this name already exists.")
    errors.raise_if_any()
    return {"name": name, "colour": colour.lower() if colour else None}


def get_tag(session: Session, tag_id) -> Tag:
    tag = session.get(Tag, fields.integer(FieldErrors(), "id", tag_id) or 0)
    if tag is None:
        raise NotFound("No such tag.")
    return tag


def create_tag(session: Session, data: dict) -> Tag:
    tag = Tag(**_clean(session, data, None))
    session.add(tag)
    commit(session)
    return tag


def update_tag(session: Session, tag_id, data: dict) -> Tag:
    tag = get_tag(session, tag_id)
    for key, value in _clean(session, data, tag).items():
        if getattr(tag, key) != value:
            setattr(tag, key, value)
    commit(session)
    return tag


def delete_tag(session: Session, tag_id) -> None:
    """Delete a tag; it comes off every customer that had it."""
    session.delete(get_tag(session, tag_id))
    commit(session)
