"""The commit at a service boundary, with database constraints mapped to field errors;
inserting many rows at once, and matching a column against many ids."""
import json
import logging
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from sqlalchemy import JSON, Integer, Table, Text, any_, bindparam, cast, column, func, insert, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from app.services.errors import Invalid

log = logging.getLogger(__name__)

# Constraint name (as it appears in the driver's message) -> (field, message).
CONSTRAINTS = {
    "submitted_form": ("form_key", "This form was already saved; it was not saved twice."),
    "ux_customer_email_live": ("email", "Another customer already uses this e-mail address."),
    "customer.email": ("email", "Another customer already uses this e-mail address."),
    "ux_contact_primary": ("is_primary", "This customer already has a primary contact."),
    "contact.customer_id": ("is_primary", "This customer already has a primary contact."),
    "ux_address_billing": ("kind", "This customer already has a billing address."),
    "address.customer_id": ("kind", "This customer already has a billing address."),
    "tag.name": ("name", "A tag with this name already exists."),
    "tag_name_key": ("name", "A tag with this name already exists."),
    "reseller.name": ("name", "A reseller with this name already exists."),
    "reseller_name_key": ("name", "A reseller with this name already exists."),
    "reseller_id": ("reseller_id", "This reseller still has customers or users."),
    # FX rates: one per pair and date (a customer's: per customer). The customer's first: SQLite's
    # message for it also holds "fx_rate.from_currency".
    "uq_customer_fx_rate_pair_date": ("effective_on", "A rate for this pair and date already exists."),
    "customer_fx_rate.customer_id": ("effective_on", "A rate for this pair and date already exists."),
    "uq_fx_rate_pair_date": ("effective_on", "A rate for this pair and date already exists."),
    "fx_rate.from_currency": ("effective_on", "A rate for this pair and date already exists."),
    # Price books: a name once, one default, a code once in its book.
    "ux_price_book_one_default": ("is_default", "Another book became the default at the same time: try again."),
    "price_book.is_default": ("is_default", "Another book became the default at the same time: try again."),
    "price_book_name_key": ("name", "A price book with this name already exists."),
    "price_book.name": ("name", "A price book with this name already exists."),
    "uq_price_book_item_code": ("code", "This book already has an item with this code."),
    "price_book_item.price_book_id": ("code", "This book already has an item with this code."),
}


def commit(session: Session) -> None:
    """Commit, or roll back and raise Invalid naming the field a constraint protects."""
    try:
        session.commit()
    except IntegrityError as e:
        session.rollback()
        raise invalid_from(e) from e


def invalid_from(error: IntegrityError) -> Invalid:
    message = str(error.orig)
    for needle, (field, text) in CONSTRAINTS.items():
        if needle in message:
            return Invalid({field: text})
    return Invalid({"_": "The change conflicts with existing data."})


def insert_rows(session: Session, table: Table, rows: list[dict]) -> None:
    """Insert many rows in the session's transaction: COPY on PostgreSQL (several times
    faster than INSERT for thousands of rows), batched INSERTs elsewhere. Every row has
    the same keys; triggers and constraints apply as for INSERT."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    columns = list(rows[0].keys())
    as_json = {c for c in columns if isinstance(table.c[c].type, JSON)}
    dumped = {}  # rows often share one value object (a bulk change's audit entry): dump it once
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_dumped(row[c], dumped) if c in as_json else row[c] for c in columns])


def copy_rows(session: Session, table: Table, shared: dict, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Insert many rows that differ only in `columns` (values in that order, one tuple a row) and
    share every other value (`shared`, written once): COPY on PostgreSQL with each line made by
    joining text, several times faster than building a row object per line (a bulk change's
    audit rows: 100,000 of them differ in two ids). Batched INSERTs elsewhere."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), [{**shared, **dict(zip(columns, row))} for row in rows])
        return
    names = list(shared) + list(columns)
    cell_of = {c: _json_cell if isinstance(table.c[c].type, JSON) else _plain_cell for c in names}
    cache: dict[int, tuple] = {}  # rows often share one JSON object (a bulk change's audit entry)
    prefix = "".join(cell_of[c](cache, v) + "\t" for c, v in shared.items())
    cells = [cell_of[c] for c in columns]
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
            for start in range(0, len(rows), 10_000):
                copy.write("".join([prefix + "\t".join([cell(cache, value) for cell, value in zip(cells, row)]) + "\n"
                                    for row in rows[start:start + 10_000]]))


def _json_cell(cache: dict, value) -> str:
    return _escape(_dumped(value, cache))


def _plain_cell(cache: dict, value) -> str:
    """A value as COPY's text format writes it."""
    if type(value) is int:
        return str(value)
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    return _escape(value if isinstance(value, str) else str(value))


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _escape(text: str) -> str:
    return text.translate(_COPY_ESCAPES)


def _dumped(value, cache: dict) -> str:
    """json.dumps(value), once per object (the object is kept, so its id is not reused)."""
    hit = cache.get(id(value))
    if hit is None:
        hit = cache[id(value)] = (value, json.dumps(value))
    return hit[1]


def update_from_rows(session: Session, table: Table, columns: dict, rows: list[tuple], set_, where) -> None:
    """UPDATE many rows of `table`, each to values of its own (`columns`: {name: type} of each tuple in
    `rows`): `set_(v)` gives the SET clause and `where(v)` the condition, both over `v.c.<name>`. On
    PostgreSQL one statement joined to unnest() of an array per column (one round trip for a chunk's
    thousand rows, where executemany costs one statement each); elsewhere executemany with those names
    as parameters."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":  # SQLite has no VALUES list with column names
        params = SimpleNamespace(c=SimpleNamespace(**{name: bindparam(f"p_{name}", type_=type_)
                                                      for name, type_ in columns.items()}))
        session.execute(update(table).where(where(params)).values(set_(params))
                        .execution_options(synchronize_session=False),
                        [{f"p_{name}": value for name, value in zip(columns, row)} for row in rows])
        return
    # unnest() of one array parameter a column: a statement of one shape whatever the number of rows
    # (compiled once, cached), where a VALUES list is compiled again for each chunk.
    arrays = [array_param(f"a_{name}", [row[i] for row in rows], type_) for i, (name, type_) in enumerate(columns.items())]
    listed = func.unnest(*arrays).table_valued(*[column(name, type_) for name, type_ in columns.items()]) \
        .render_derived(name="v")
    session.execute(update(table).where(where(listed)).values(set_(listed))
                    .execution_options(synchronize_session=False))


_PLAIN = (int, Decimal, date)  # exactly these types (not bool, not datetime): str() is the array literal's text


def array_param(name: str, values: list, type_):
    """A PostgreSQL array parameter of `values` (of `type_`): numbers and dates sent as the array's text
    ('{1,2.50,NULL}') cast to the array type, which psycopg's array dumper takes several times longer to
    build for thousands of values; anything else through the dumper."""
    if all(v is None or type(v) in _PLAIN for v in values):
        literal = "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"
        return cast(bindparam(name, literal, type_=Text), ARRAY(type_))
    return bindparam(name, values, type_=ARRAY(type_))


def in_ids(session: Session, column, ids):
    """`column IN (ids)` for thousands of integer ids: one array parameter on PostgreSQL
    (`column = ANY(%s)`), where 5,000 placeholders cost more to build, send and parse than
    the statement's own work; a plain IN elsewhere."""
    ids = [int(i) for i in ids]
    if session.get_bind().dialect.name == "postgresql":
        # Sent as the array's text ('{1,2,3}'): psycopg's own array dumper takes longer
        # over 5,000 ints than the statement that uses them.
        literal = "{" + ",".join(map(str, ids)) + "}"
        return column == any_(cast(bindparam(None, literal, type_=Text), ARRAY(Integer)))
    return column.in_(ids)


def vacuum(session: Session, *tables: str, lock_timeout: str = "5s") -> bool:
    """VACUUM (ANALYZE) these tables on PostgreSQL, outside any transaction (on a connection of
    its own); nothing elsewhere. Housekeeping, never a failure of the work before it: a table
    another session keeps locked for longer than `lock_timeout`, or any other error, is logged
    and left to autovacuum (a user that does not own a table gets a warning from PostgreSQL).
    Returns whether every table was vacuumed."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    try:
        with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"SET lock_timeout = '{lock_timeout}'")
            try:
                for table in tables:
                    conn.exec_driver_sql(f"VACUUM (ANALYZE) {table}")
            finally:  # the connection goes back to the pool: its next user waits on locks as usual
                conn.exec_driver_sql("RESET lock_timeout")
    except SQLAlchemyError as e:
        log.warning("VACUUM of %s not done: %s", ", ".join(tables), getattr(e, "orig", None) or e)
        return False
    return True
