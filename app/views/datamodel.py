"""The customer list's query: fast at a million rows, for the list, the REST API and CSV.

Stock FAB counts every row, pages with a plain OFFSET over full rows and loads
tags one customer at a time. Here:
- the count stops at a cap and, past it, reports the planner's estimate
  (an int flagged `approximate`), so a page never scans the whole table;
- a page is found as ids first (an index-only walk of the sort index), then
  those rows are loaded with their reseller joined and their tags in one query;
- the last page, or any page past the end of an estimated count, is read
  backwards from the end instead of skipping everything before it;
- when a text search leaves few rows (under MATERIALIZE_BELOW), the matches are
  collected first and sorted after: walking the sort index and testing each row
  would be a full scan when the matches cluster (every "Smith" sorts together);
- a page in the back half of an exactly counted list is read backwards.
"""
import json

from flask import current_app
from flask_appbuilder.models.sqla.interface import SQLAInterface
from sqlalchemy import asc, desc, func, select
from sqlalchemy.orm import selectinload

from app.models import Customer, CustomerService, Reseller, Tag, customer_tag
from app.services.customers import services
from app.views.filters import CustomerFilterConverter, FilterSearch, FilterTextContains, FilterTextStartsWith

MAX_PAGE_SIZE = 100
TEXT_FILTERS = (FilterSearch, FilterTextContains, FilterTextStartsWith)
MATERIALIZE_BELOW = 20_000


class Count(int):
    """A row count; `approximate` is True when it is the planner's estimate."""

    approximate = False


def _estimate(session, stmt) -> int:
    """The PostgreSQL planner's row estimate for a statement (a few ms, no scan)."""
    compiled = stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    plan = session.connection().exec_driver_sql(
        f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class LookupInterface(SQLAInterface):
    """For the options of a select (tags, resellers): the rows, without counting them first."""

    def query(self, filters=None, order_column="", order_direction="", page=None, page_size=None,
              select_columns=None, outer_default_load=False):
        query = self.apply_all(self.session.query(self.obj), filters, order_column, order_direction,
                               page, page_size)
        rows = query.all()
        return len(rows), rows


class CustomerInterface(SQLAInterface):
    filter_converter_class = CustomerFilterConverter

    def __init__(self, obj=Customer, session=None):
        super().__init__(obj, session)
        self._related: dict[str, LookupInterface] = {}

    def get_related_interface(self, col_name: str):
        # FAB builds related interfaces from self.__class__; ours only knows customers.
        # Built once per column: FAB asks again for every option of a select (the pk of
        # each tag), and an interface walks its model's mapper when it is made.
        related = self._related.get(col_name)
        if related is None:
            related = self._related[col_name] = LookupInterface(self.get_related_model(col_name), self._session)
        return related

    def sort_key(self, order_column: str):
        """The SQL expression a list column sorts by."""
        if order_column == "name":
            return Customer.sort_name
        if order_column == "reseller":
            return select(Reseller.name).where(Reseller.id == Customer.reseller_id).scalar_subquery()
        if order_column == "services_summary":
            return (select(func.min(CustomerService.name)).where(CustomerService.customer_id == Customer.id,
                                                                  CustomerService.status != "cancelled")
                    .scalar_subquery())
        if order_column == "tags":
            return (select(func.min(Tag.name)).join(customer_tag, customer_tag.c.tag_id == Tag.id)
                    .where(customer_tag.c.customer_id == Customer.id).scalar_subquery())
        if order_column in Customer.__table__.c and order_column != "id":
            return Customer.__table__.c[order_column]
        return None

    def filtered_ids(self, filters):
        """A Query of the ids that match `filters` (scope included, as a base filter)."""
        query = self.session.query(Customer.id)
        if filters is not None:
            query = filters.apply_all(query)
        return query

    def ordered(self, query, order_column: str, order_direction: str, reverse: bool = False):
        descending = (order_direction == "desc") != reverse
        direction = desc if descending else asc
        key = self.sort_key(order_column)
        keys = [direction(key)] if key is not None else []
        return query.order_by(*keys, direction(Customer.id))

    def count(self, ids_query) -> Count:
        cap = current_app.config["LIST_EXACT_COUNT_LIMIT"]
        stmt = ids_query.order_by(None).statement
        if self.session.get_bind().dialect.name != "postgresql" or not cap:
            return Count(self.session.scalar(select(func.count()).select_from(stmt.subquery())))
        capped = self.session.scalar(select(func.count()).select_from(stmt.limit(cap + 1).subquery()))
        if capped <= cap:
            return Count(capped)
        estimate = Count(max(_estimate(self.session, stmt), cap + 1))
        estimate.approximate = True
        return estimate

    def query(self, filters=None, order_column="", order_direction="", page=None, page_size=None,
              select_columns=None, outer_default_load=False):
        page = max(int(page or 0), 0)
        page_size = min(int(page_size or 25), MAX_PAGE_SIZE)
        ids_query = self.filtered_ids(filters)
        count = self.count(ids_query)
        last_page = max((count - 1) // page_size, 0)
        if count.approximate and page >= last_page and page > 0:
            # Past the end of an estimate: the true last page, read backwards.
            ids = self._page(ids_query, order_column, order_direction, 0, page_size, reverse=True)
        elif self._few_matches(count, filters):
            ids = self._page_of_matches(ids_query, order_column, order_direction, page, page_size)
        elif not count.approximate and page * page_size > count // 2:
            # The back half of the list is nearer its end: skip fewer rows, backwards.
            start = page * page_size
            size = max(min(page_size, count - start), 0)
            ids = self._page(ids_query, order_column, order_direction, count - start - size, size,
                             reverse=True) if size else []
        else:
            ids = self._page(ids_query, order_column, order_direction, page * page_size, page_size)
        return count, self.load(ids)

    def _page(self, ids_query, order_column, order_direction, offset, limit, reverse=False):
        rows = self.ordered(ids_query, order_column, order_direction, reverse=reverse).offset(offset).limit(limit)
        ids = [row[0] for row in rows]
        return ids[::-1] if reverse else ids

    @staticmethod
    def _few_matches(count: Count, filters) -> bool:
        """A text search left few rows. Its matches bunch together in name order (every
        "Smith" sorts together), where walking the sort index would scan to find them;
        other filters (a tag, a date) match evenly along it, and the walk stops early."""
        text = [f for f in (filters.filters if filters is not None else []) if isinstance(f, TEXT_FILTERS)]
        return bool(text) and count < MATERIALIZE_BELOW

    def _page_of_matches(self, ids_query, order_column, order_direction, page, page_size):
        """Collect the matches, then sort them: never walk the sort index testing each row."""
        key = self.sort_key(order_column)
        columns = [Customer.id] + ([key.label("sort_key")] if key is not None else [])
        # OFFSET 0 keeps the planner from merging the two queries back into the walk
        # (a MATERIALIZED CTE does the same, and writes every match out first).
        matches = ids_query.with_entities(*columns).order_by(None).offset(0).subquery("matches")
        direction = desc if order_direction == "desc" else asc
        keys = ([direction(matches.c.sort_key)] if key is not None else []) + [direction(matches.c.id)]
        rows = self.session.execute(select(matches.c.id).order_by(*keys).offset(page * page_size).limit(page_size))
        return [row[0] for row in rows]

    def load(self, ids: list[int]) -> list[Customer]:
        """Customers by id, in the given order, with reseller and tags loaded in one round trip each,
        and a summary of their services from a subquery of the same statement."""
        if not ids:
            return []
        rows = self.session.execute(
            select(Customer, services.summary_of_one()).where(Customer.id.in_(ids)).options(selectinload(Customer.tags))
        ).all()
        by_id = {}
        for customer, summary in rows:
            customer.__dict__["_services_summary"] = summary
            by_id[customer.id] = customer
        return [by_id[i] for i in ids if i in by_id]
