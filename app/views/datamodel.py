"""The one list machinery: fast at a million rows, for every FAB list, REST list and CSV.

Stock FAB counts every row, pages with a plain OFFSET over full rows and loads each
row's relations one row at a time. `ListInterface` (any model) does instead:
- the count stops at a cap and, past it, reports the planner's estimate
  (an int flagged `approximate`), so a page never scans the whole table;
- a page is found as ids first (an index-only walk of the sort index), then
  those rows are loaded with the relations the view declares, in one query each;
- a page in the back half of the list is read backwards from the end;
- the pager's links carry a cursor (the sort key and id of the row the current page
  starts or ends at), so the next pages and the previous ones are an index seek plus a
  few rows, wherever they are in the list (see `Paging`);
- with an estimated count, a page looks a few pages ahead (or behind) of itself: when the
  list ends (or starts) there, the count is known exactly and the pager links no page past
  the end; a page asked for past the end shows the last one;
- when a text search leaves few rows (under MATERIALIZE_BELOW), the matches are
  collected first and sorted after: walking the sort index and testing each row
  would be a full scan when the matches cluster (every "Smith" sorts together).
`CustomerInterface` adds the customer list's own sort keys and its one-statement load.
"""
import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from flask import current_app, has_request_context, request, url_for
from flask_appbuilder.models.sqla.interface import SQLAInterface
from sqlalchemy import Boolean, Column, Date, DateTime, Float, Integer, Numeric, String, asc, desc, func, select, tuple_
from sqlalchemy.orm import joinedload, lazyload, load_only, selectinload

from app.models import Customer, CustomerBalance, CustomerService, Reseller, Tag, customer_tag
from app.services.customers import services
from app.services.fields import BIGINT_MAX, BIGINT_MIN, CONTROL, INT_MAX, decimal_number, whole_number
from app.views.filters import CustomerFilterConverter, FilterCustomerNamed, FilterSearch, FilterTextContains, \
    FilterTextStartsWith
from app.views.lists import MAX_PAGE_SIZE

TEXT_FILTERS = (FilterSearch, FilterTextContains, FilterTextStartsWith, FilterCustomerNamed)
MATERIALIZE_BELOW = 20_000
AROUND = 3  # pages FAB's pager links on either side of the current one
CURSOR_ARG = "_cur_"  # + the view's name: the cursor behind a pager link


class Count(int):
    """A row count; `approximate` is True when it is the planner's estimate.
    `paging` (a Paging, or None) says which page the rows are and how to link the others."""

    approximate = False
    paging = None
    ids = None  # under the cap on PostgreSQL: the matching ids themselves (in no order)


def _estimate(session, stmt) -> int:
    """The PostgreSQL planner's row estimate for a statement (a few ms, no scan)."""
    compiled = stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    plan = session.connection().exec_driver_sql(
        f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def _encode(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _decode(column: Column, value):
    """A sort key from a cursor, as the column's Python type (None when it is not one)."""
    kind = column.type
    try:
        if isinstance(kind, DateTime):
            return datetime.fromisoformat(value)
        if isinstance(kind, Date):
            return date.fromisoformat(value)
        if isinstance(kind, Numeric) and not isinstance(kind, Float):
            return decimal_number(value)
        if isinstance(kind, Boolean):
            return value if isinstance(value, bool) else None
        if isinstance(kind, Integer):
            return whole_number(value, BIGINT_MIN, BIGINT_MAX) if isinstance(value, int) else None
        if isinstance(kind, String):
            # what the database can compare: no NUL (PostgreSQL refuses it), nor other controls
            return value if isinstance(value, str) and len(value) <= 1000 and not CONTROL.search(value) else None
    except (TypeError, ValueError):
        return None
    return None  # a column of another type has no cursor


class Paging:
    """The page a list shows, how many pages the pager may link, and the cursors behind its links.

    A link to a page after this one carries "after the last row of page N"; one before it,
    "before the first row of page N". The page asked for is then read from that row:
    an index seek and at most AROUND pages of rows, wherever the page is. A cursor is
    signed with the list it was made for (model, sort, page size, filters): one that does
    not fit is ignored. The first and the last page need none (read from either end)."""

    def __init__(self, page: int, count: "Count", page_size: int, signature: str | None,
                 first=None, last=None):
        self.page, self.count, self.page_size, self.signature = page, count, page_size, signature
        self.first, self.last = first, last  # (sort key, id) of the page's first and last rows

    @property
    def pages(self) -> int:
        return max(-(-int(self.count) // self.page_size), 1)

    def cursor(self, target: int) -> str | None:
        if self.signature is None or target in (0, self.page) or target >= self.pages - 1:
            return None
        side, row = ("a", self.last) if target > self.page else ("b", self.first)
        if row is None:
            return None
        body = [self.page, side, _encode(row[0]), row[1]]
        data = json.dumps([*body, _mac(self.signature, body)], separators=(",", ":"))
        return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")

    def link(self, target: int, modelview_name: str) -> str:
        """The URL of page `target` of this list, with its cursor (the request's other arguments kept)."""
        args = request.args.copy()
        args.pop(CURSOR_ARG + modelview_name, None)
        args["page_" + modelview_name] = target
        cursor = self.cursor(target)
        if cursor:
            args[CURSOR_ARG + modelview_name] = cursor
        return url_for(request.endpoint, **{**request.view_args, **args.to_dict()})


def _mac(signature: str, body: list) -> str:
    """The cursor's seal: made with the app's secret over the list it is for (model, sort, page
    size, filters) and its row, so a cursor is read only as it was made, for that list."""
    data = signature + json.dumps(body, separators=(",", ":"))
    return hmac.new(current_app.config["SECRET_KEY"].encode(), data.encode(), hashlib.sha256).hexdigest()[:32]


def _read_cursor(token: str, signature: str):
    """(anchor page, side, sort key, id) of a cursor made for the list `signature`, else None."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        anchor, side, key, pk, mac = data
    except (ValueError, TypeError):
        return None
    if not (isinstance(mac, str) and hmac.compare_digest(mac, _mac(signature, [anchor, side, key, pk]))):
        return None
    anchor, pk = whole_number(anchor, 0, INT_MAX), whole_number(pk, BIGINT_MIN, BIGINT_MAX)
    if anchor is None or pk is None or side not in ("a", "b"):
        return None
    return anchor, side, key, pk


class LookupInterface(SQLAInterface):
    """For the options of a select (tags, resellers): the rows, without counting them first."""

    def query(self, filters=None, order_column="", order_direction="", page=None, page_size=None,
              select_columns=None, outer_default_load=False):
        query = self.apply_all(self.session.query(self.obj), filters, order_column, order_direction,
                               page, page_size)
        rows = query.all()
        return len(rows), rows


_AT_START = object()  # a cursor's page is the list's first: read page 0


class _Walk:
    """One list's rows in one order: (id, sort key) pairs read forwards or backwards, from an
    offset, optionally from a row on (a cursor)."""

    def __init__(self, ids_query, pk, key, descending: bool, page_size: int, seekable: bool):
        self.ids_query, self.pk, self.key, self.descending = ids_query, pk, key, descending
        self.page_size, self.seekable = page_size, seekable

    def rows(self, offset: int, limit: int, reverse: bool = False, after=None) -> list[tuple]:
        descending = self.descending != reverse
        direction = desc if descending else asc
        keyed = self.seekable and self.key is not None
        query = self.ids_query.with_entities(self.pk, *([self.key] if keyed else []))
        if after is not None:
            key, pk = after
            left, right = (tuple_(self.key, self.pk), tuple_(key, pk)) if keyed else (self.pk, pk)
            query = query.filter(left < right if descending else left > right)
        order = ([direction(self.key)] if self.key is not None else []) + [direction(self.pk)]
        rows = query.order_by(None).order_by(*order).offset(offset).limit(limit).all()
        return [(row[0], row[1] if keyed else None) for row in rows]


class _Matches(_Walk):
    """The sorted matches of a text search (ListInterface._page_of_matches), read forwards only."""

    def __init__(self, page_of_matches, page_size: int):
        self.page_of_matches, self.page_size = page_of_matches, page_size

    def rows(self, offset: int, limit: int, reverse: bool = False, after=None) -> list[tuple]:
        return self.page_of_matches(offset, limit)


@dataclass(frozen=True)
class Joined:
    """A sort key held in another table, one row per listed row (CustomerBalance.balance), `id` its
    column holding the listed row's id. The list's queries join that table when they sort by it, and
    order and seek by (key, id) there: the columns of its index, which the walk then reads."""

    key: Column
    id: Column


class ListInterface(SQLAInterface):
    """FAB's SQLAInterface with the list machinery above, for any model.

    `sort_keys`: list column -> the SQL expression it sorts by, where that is not the model's
    column of the same name (a subquery, another column, a `Joined` column of another table);
    `eager`: loader options for the relations a page's columns show (one query each, not one per
    row). Scope comes with the view's base filters, as with FAB."""

    def __init__(self, obj, session=None, sort_keys=None, eager=()):
        super().__init__(obj, session)
        self.sort_keys = dict(sort_keys or {})
        self.eager = tuple(eager)
        self.pk = obj.__mapper__.primary_key[0]
        self._related: dict[str, LookupInterface] = {}

    def get_related_interface(self, col_name: str):
        # FAB builds related interfaces from self.__class__; ours need arguments. Built once
        # per column: FAB asks again for every option of a select (the pk of each tag), and
        # an interface walks its model's mapper when it is made.
        related = self._related.get(col_name)
        if related is None:
            related = self._related[col_name] = LookupInterface(self.get_related_model(col_name), self._session)
        return related

    def sort_key(self, order_column: str):
        """The SQL expression a list column sorts by (None: by id alone)."""
        if order_column in self.sort_keys:
            key = self.sort_keys[order_column]
            return key.key if isinstance(key, Joined) else key
        columns = self.obj.__table__.c
        if order_column in columns and columns[order_column] is not self.pk:
            return columns[order_column]
        return None

    @staticmethod
    def seekable(key) -> bool:
        """A cursor can start after a row of this order: a column that holds no NULL (or the id)."""
        return key is None or (isinstance(key, Column) and not key.nullable)

    def filtered_ids(self, filters, purpose: str | None = None, query=None):
        """A Query of the ids that match `filters` (scope included, as a base filter).

        `purpose`: "walking" (a walk down the list's order) or "counting" (the capped count),
        for which a filter may put its condition another way (`apply_walking`, `apply_counting`,
        as filters.FilterCustomerNamed does). `query`: the ids' query to filter (walked_ids')."""
        query = query if query is not None else self.session.query(self.pk)
        if filters is None:
            return query
        if purpose is None:
            return filters.apply_all(query)
        for flt, values in zip(filters.filters, filters.values):  # as FAB's Filters.apply_all
            apply = getattr(flt, f"apply_{purpose}", flt.apply)
            for value in values if isinstance(values, list) and flt.arg_name not in {"in", "not_in"} else [values]:
                query = apply(query, value)
        return query

    def walked_ids(self, filters, order_column: str):
        """(the ids to walk in the column's order, the id column to order by after its key), filtered
        for walking with the sort key's table (a `Joined` key) already joined: a filter on that key
        may then compare the row the walk reads (filters.FilterBalanceGreater), a range of its index,
        not each row looked up again in a subquery (a list sorted by balance and filtered by balance
        "From 0.01" read every balance below it first)."""
        query, pk = self.joined(self.session.query(self.pk), order_column)
        return self.filtered_ids(filters, "walking", query), pk

    def joined(self, query, order_column: str):
        """`query` with the table the column's sort key is in (a `Joined` key), and the id column to
        order by after the key (that table's, whose index holds both)."""
        key = self.sort_keys.get(order_column)
        if not isinstance(key, Joined):
            return query, self.pk
        return query.join(key.id.table, key.id == self.pk), key.id

    def ordered(self, query, order_column: str, order_direction: str, reverse: bool = False):
        descending = (order_direction == "desc") != reverse
        direction = desc if descending else asc
        key = self.sort_key(order_column)
        keys = [direction(key)] if key is not None else []
        query, pk = self.joined(query, order_column)
        return query.order_by(*keys, direction(pk))

    def exact_count(self, ids_query) -> Count:
        return Count(self.session.scalar(select(func.count()).select_from(ids_query.order_by(None).subquery())))

    def count(self, ids_query, counting=None) -> Count:
        """The count, capped on PostgreSQL; `counting`: the same ids as filtered for counting
        (filtered_ids' purpose "counting"), for the capped count (the estimate is ids_query's)."""
        cap = current_app.config["LIST_EXACT_COUNT_LIMIT"]
        stmt = ids_query.order_by(None).statement
        if self.session.get_bind().dialect.name != "postgresql" or not cap:
            return self.exact_count(ids_query)
        counting = (counting if counting is not None else ids_query).order_by(None).statement
        # The ids, not their count: when they are few, a text search's page is sorted from
        # them, not searched for again (the trigram look-up of a payment's reference is most
        # of its page's time).
        found = list(self.session.scalars(counting.limit(cap + 1)))
        if len(found) <= cap:
            count = Count(len(found))
            count.ids = found
            return count
        estimate = Count(max(_estimate(self.session, stmt), cap + 1))
        estimate.approximate = True
        return estimate

    def query(self, filters=None, order_column="", order_direction="", page=None, page_size=None,
              select_columns=None, outer_default_load=False):
        page = whole_number(page, 0) or 0  # the views refuse bad arguments; never a 500 here either
        page_size = min(whole_number(page_size, 1) or 25, MAX_PAGE_SIZE)
        ids_query = self.filtered_ids(filters)
        count = self.count(ids_query, self.filtered_ids(filters, "counting"))
        key = self.sort_key(order_column)
        few = self._few_matches(count, filters)
        seekable = self.seekable(key) and not few
        signature = self._signature(filters, order_column, order_direction, page_size) if seekable else None
        if few:
            matched = ids_query if count.ids is None else self.session.query(self.pk).filter(self.pk.in_(count.ids))
            walk = _Matches(lambda offset, limit: self._page_of_matches(
                matched, order_column, order_direction, offset, limit), page_size)
        else:
            walk = _Walk(*self.walked_ids(filters, order_column), key,
                         order_direction == "desc", page_size, seekable)
        cursor = self._cursor(signature, key)
        rows, page, count = self._find(walk, few, count, ids_query, page, cursor)
        count.paging = Paging(page, count, page_size, signature, *(
            ((rows[0][1], rows[0][0]), (rows[-1][1], rows[-1][0])) if rows else ()))
        return count, self.load([row[0] for row in rows])

    def _find(self, walk, few: bool, count: Count, ids_query, page: int, cursor):
        """(rows, the page they are, the count): see the module's docstring. With `few`, the
        walk is the sorted matches (read forwards only)."""
        size = walk.page_size
        window = size * (AROUND + 1) + 1  # the page, the pages the pager links after it, one row more
        if cursor is not None:
            found = self._seek(walk, count, page, cursor, window)
            if found is _AT_START:
                page = 0
            elif found is not None:
                return found
        pages = max(-(-count // size), 1)
        page = min(page, pages - 1)  # past the end: the last page
        if not count.approximate:
            start = page * size
            if start > count // 2 and not few:
                # The back half is nearer its end: skip fewer rows, backwards.
                taken = min(size, count - start)
                return walk.rows(count - start - taken, taken, reverse=True)[::-1], page, count
            return walk.rows(start, size), page, count
        if page > 0 and page >= pages // 2 and not few:
            back = walk.rows((pages - 1 - page) * size, window, reverse=True)
            if len(back) < window:  # the start is near: the count is known
                exact = Count((pages - 1 - page) * size + len(back)) if back else self.exact_count(ids_query)
                return self._find(walk, few, exact, ids_query, page, None)
            return back[:size][::-1], page, count
        rows = walk.rows(page * size, window)
        if len(rows) < window:  # the end is near (or passed: the estimate was high)
            exact = Count(page * size + len(rows)) if rows else self.exact_count(ids_query)
            return (rows[:size], page, exact) if rows or not page else self._find(
                walk, few, exact, ids_query, page, None)
        return rows[:size], page, count

    @staticmethod
    def _seek(walk, count: Count, page: int, cursor, window):
        """The page a pager link's cursor points to, or None (the cursor does not lead there)."""
        anchor, side, row = cursor
        size = walk.page_size
        if side == "a" and page > anchor:
            rows = walk.rows((page - anchor - 1) * size, window, after=row)
            if not rows:
                return None
            if count.approximate and len(rows) < window:  # the end is near: no page past it
                count = Count(page * size + len(rows))
                count.approximate = True
            return rows[:size], page, count
        if side == "b" and page < anchor:
            back = walk.rows((anchor - page - 1) * size, window, reverse=True, after=row)
            if len(back) <= size:
                return _AT_START if back else None  # page 0 is the first rows, read from the start
            if count.approximate and len(back) < window:
                # The start is near: number the page by the rows before it, so that the
                # pager's previous pages hold rows.
                page = -(-(len(back) - size) // size)
            return back[:size][::-1], page, count
        return None

    def _signature(self, filters, order_column, order_direction, page_size) -> str:
        """The list a cursor is for (model, sort, page size, filters), as text: part of its seal."""
        shown = [(f.column_name, type(f).__name__, repr(v))
                 for f, v in zip(filters.filters, filters.values)] if filters is not None else []
        return json.dumps([self.obj.__name__, order_column, order_direction, page_size, shown], default=repr)

    @staticmethod
    def _cursor(signature, key):
        """(anchor page, side, (sort key, id)) of the request's cursor for this list, or None."""
        if signature is None or not has_request_context():
            return None
        for name, token in request.args.items():
            if not name.startswith(CURSOR_ARG):
                continue
            cursor = _read_cursor(token, signature)
            if cursor is None:
                continue
            anchor, side, value, pk = cursor
            value = _decode(key, value) if key is not None else None
            if key is not None and value is None:
                return None
            return anchor, side, (value, pk)
        return None

    @staticmethod
    def _few_matches(count: Count, filters) -> bool:
        """A text search left few rows. Its matches bunch together in name order (every
        "Smith" sorts together), where walking the sort index would scan to find them;
        other filters (a tag, a date) match evenly along it, and the walk stops early. A filter
        with `few_matches` may say which it is."""
        for flt, value in zip(filters.filters, filters.values) if filters is not None else ():
            if isinstance(value, list) and len(value) == 1:
                value = value[0]
            decided = flt.few_matches(value) if hasattr(flt, "few_matches") and isinstance(value, str) else None
            if decided is not None:  # the filter knows (filters.FilterCustomerNamed)
                return decided
        text = [f for f in (filters.filters if filters is not None else []) if isinstance(f, TEXT_FILTERS)]
        return bool(text) and count < MATERIALIZE_BELOW

    def _page_of_matches(self, ids_query, order_column, order_direction, offset, limit):
        """Collect the matches, then sort them: never walk the sort index testing each row."""
        key = self.sort_key(order_column)
        columns = [self.pk] + ([key.label("sort_key")] if key is not None else [])
        # OFFSET 0 keeps the planner from merging the two queries back into the walk
        # (a MATERIALIZED CTE does the same, and writes every match out first).
        ids_query, _ = self.joined(ids_query, order_column)
        matches = ids_query.with_entities(*columns).order_by(None).offset(0).subquery("matches")
        direction = desc if order_direction == "desc" else asc
        keys = ([direction(matches.c.sort_key)] if key is not None else []) + [direction(matches.c[self.pk.name])]
        rows = self.session.execute(select(matches.c[self.pk.name]).order_by(*keys).offset(offset).limit(limit))
        return [(row[0], None) for row in rows]

    def load(self, ids: list[int]) -> list:
        """The rows by id, in the given order, with the declared relations loaded."""
        if not ids:
            return []
        rows = self.session.scalars(select(self.obj).where(self.pk.in_(ids)).options(*self.eager)).unique().all()
        by_id = {getattr(row, self.pk.key): row for row in rows}
        return [by_id[i] for i in ids if i in by_id]


class CustomerInterface(ListInterface):
    filter_converter_class = CustomerFilterConverter

    def __init__(self, obj=Customer, session=None):
        super().__init__(obj, session, eager=(selectinload(Customer.tags),), sort_keys={
            "name": Customer.__table__.c.sort_name,
            # customer.balance has no index (a balance update is then a HOT update): its copy has one
            "balance": Joined(CustomerBalance.__table__.c.balance, CustomerBalance.__table__.c.customer_id),
            "reseller": select(Reseller.name).where(Reseller.id == Customer.reseller_id).scalar_subquery(),
            "services_summary": select(func.min(CustomerService.name)).where(
                CustomerService.customer_id == Customer.id, CustomerService.status != "cancelled").scalar_subquery(),
            "tags": select(func.min(Tag.name)).join(customer_tag, customer_tag.c.tag_id == Tag.id).where(
                customer_tag.c.customer_id == Customer.id).scalar_subquery(),
        })

    def load(self, ids: list[int]) -> list[Customer]:
        """Customers by id, in the given order, with reseller and tags loaded in one round trip each,
        and a summary of their services from a subquery of the same statement."""
        if not ids:
            return []
        rows = self.session.execute(
            select(Customer, services.summary_of_one()).where(Customer.id.in_(ids)).options(*self.eager)
        ).all()
        by_id = {}
        for customer, summary in rows:
            customer.__dict__["_services_summary"] = summary
            by_id[customer.id] = customer
        return [by_id[i] for i in ids if i in by_id]


def customer_name(relationship):
    """Load a row's customer in the list's statement, as the list shows it (its name, and the
    currency its amounts are in): not its reseller (joined) and tags (selectin) that Customer
    loads eagerly by default."""
    return joinedload(relationship).options(load_only(Customer.id, Customer.name, Customer.currency),
                                            lazyload(Customer.reseller),
                                            lazyload(Customer.tags))
