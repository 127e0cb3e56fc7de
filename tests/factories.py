"""Helpers that make test data through the services, as a user would."""
from app.extensions import db
from app.models import Reseller, Tag, User
from app.services.customers.create import create_customer


def user(username: str) -> User:
    return db.session.query(User).filter_by(username=username).one()


def reseller_id(name: str) -> int:
    return db.session.query(Reseller).filter_by(name=name).one().id


def tag(name: str, colour=None) -> Tag:
    t = Tag(name=name, colour=colour)
    db.session.add(t)
    db.session.commit()
    return t


_n = [0]


def customer(actor="admin", **fields):
    _n[0] += 1
    data = {"customer_type": "private", "first_name": "Test", "surname": f"Person{_n[0]}"}
    data.update(fields)
    return create_customer(db.session, user(actor) if isinstance(actor, str) else actor, data)
