"""List filters: scope (as FAB base filters) and the customer list's own filters.

FAB's stock filters compare numbers as strings, load a related object per tag
filter and have no free-text search; these replace them for the customer list
and answer the REST API's rison filters under the same names (`opr`).
"""
from flask import g
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import (
    FilterContains,
    FilterEqual,
    FilterNotEqual,
    FilterRelationOneToManyEqual,
    FilterStartsWith,
    SQLAFilterConverter,
)
from sqlalchemy import any_, false, func, or_, select, true, union_all

from app.models import Contact, Customer, CustomerBalance, CustomerSurname, customer_tag
from app.models.customers import IN_SERVICE
from app.services.fields import decimal_number, iso_date, record_id, whole_number
from app.services.scope import customer_ids_in_scope, customer_scope, is_scoped


class CustomerScopeFilter(BaseFilter):
    """Base filter: the customers the logged-in user may see."""

    name = "In scope"

    def apply(self, query, value):
        return query.filter(customer_scope(g.user))


class ChildScopeFilter(BaseFilter):
    """Base filter for rows that belong to a customer through `customer_id`.

    A user who sees every customer gets no condition: "customer_id IN (every customer)"
    made a list of contacts join the whole customer table, a second a page at a million."""

    name = "In scope"

    def apply(self, query, value):
        if not is_scoped(g.user):
            return query
        return query.filter(self.model.customer_id.in_(customer_ids_in_scope(g.user)))


class PhoneScopeFilter(BaseFilter):
    name = "In scope"

    def apply(self, query, value):
        if not is_scoped(g.user):
            return query
        contacts = select(Contact.id).where(Contact.customer_id.in_(customer_ids_in_scope(g.user)))
        return query.filter(self.model.contact_id.in_(contacts))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains(datamodel, field, value: str, prefix_only: bool = False):
    """Case-insensitive "contains" (or "starts with"), with % and _ taken literally.

    SQLite's LIKE already ignores the case of A-Z; its ILIKE goes through lower(),
    which this app makes Unicode-aware in Python and is three times slower, so
    it is used only when the text has letters beyond ASCII.
    """
    pattern = ("" if prefix_only else "%") + _escape_like(value) + "%"
    sqlite = datamodel.session.get_bind().dialect.name == "sqlite"
    if sqlite and value.isascii():
        return field.like(pattern, escape="\\")
    return field.ilike(pattern, escape="\\")


class FilterSearch(BaseFilter):
    """Free text over name, e-mail, phone and customer ID."""

    name = "Search"
    arg_name = "search"

    def apply(self, query, value):
        value = (value or "").strip()
        if not value:
            return query
        clauses = [contains(self.datamodel, Customer.name, value),
                   contains(self.datamodel, Customer.email, value.lower())]
        digits = "".join(c for c in value if c in "0123456789")
        if digits and len(digits) >= 3:
            clauses.append(Customer.phone.like(f"%{digits.lstrip('0')}%"))
            clauses.append(Customer.mobile.like(f"%{digits.lstrip('0')}%"))
        customer_id = record_id(value)
        if customer_id is not None and customer_id >= 0:
            clauses.append(Customer.id == customer_id)
        return query.filter(or_(*clauses))


# On PostgreSQL, by how many customers a name matches: under FEW_CUSTOMERS their rows are collected
# and sorted; up to HASHED_CUSTOMERS the list is walked in its order and each row's customer looked
# up in a hash of their ids; past that, walked and each row's customer read (most rows match).
FEW_CUSTOMERS = 5_000
HASHED_CUSTOMERS = 20_000


def _name_parts(value: str) -> list:
    """Where a name containing `value` is found: the whole name when the text has a space in it,
    else each part (a private customer's name is its first name and surname, a company's its
    company name)."""
    if any(c.isspace() for c in value):
        return [Customer.name]
    return [Customer.surname, Customer.first_name, Customer.company_name]


def customers_named(datamodel, value: str, *also):
    """The ids of the customers whose name contains `value` (case-insensitive, % and _ literal),
    each part by its own index: the surname through its lexicon and the index that holds each
    surname's customer ids, the first and company names through their trigram indexes. That takes
    a few milliseconds at a million customers where the name's own trigram index reads the row of
    every match (30 ms for "smith"). A word also finds a company by a contact's name kept on it.
    `also`: more selects of customer ids (one UNION: SQLite takes no UNION nested in another)."""
    found = []
    for part in _name_parts(value):
        if part is Customer.surname:
            surnames = select(CustomerSurname.surname).where(contains(datamodel, CustomerSurname.surname, value))
            found.append(select(Customer.id).where(Customer.surname.in_(surnames)))
        else:
            found.append(select(Customer.id).where(contains(datamodel, part, value)))
    found += also
    return union_all(*found) if len(found) > 1 else found[0]


def customers_named_broadly(datamodel, value: str, *also):
    """The same customers as customers_named, as one condition on each customer's row: for text
    that matches most of them ("a"), where the planner had better walk the money rows and look
    each one's customer up than gather every match first (1 s at a million)."""
    return select(Customer.id).where(or_(*(contains(datamodel, part, value) for part in _name_parts(value)),
                                         *(Customer.id.in_(more) for more in also)))


class FilterCustomerNamed(BaseFilter):
    """Rows of a customer (the model's `customer_id`) whose name contains the text
    (customers_named), or, with `by_id`, who has that ID: "12" is that ID or a name containing
    "12", "#12" only the customer with ID 12.

    On PostgreSQL the matched customers are counted first (up to HASHED_CUSTOMERS, a few ms,
    once a request), and the count says how the list machinery (views/datamodel.py) counts
    and finds a page (`few_matches`, `apply_counting`, `apply_walking`):
    - under FEW_CUSTOMERS, their rows are collected and sorted: walking the list would read far
      to find a page when few customers match;
    - up to HASHED_CUSTOMERS, the list is walked in its order, each row tested against their
      ids hashed once (7 ms for a page of the invoices of the 9,294 customers named "smith" at a
      million customers, where collecting their 28,000 invoices and sorting them takes 30);
    - past that, customers_named_broadly: walked, each row's customer read (a hash of most
      customers would not fit in memory, and PostgreSQL would scan the subquery again per row)."""

    name = "Name or ID"
    arg_name = "customer"
    by_id = True

    def _customers(self, value):
        """(the customers' select, how many: "few", "hashed", "broad" or None where unknown), or
        None: no text."""
        value = (value or "").strip()
        only_id = self.by_id and value.startswith("#")
        if self.by_id:
            value = value.lstrip("#")
        if not value:
            return None
        number = record_id(value) if self.by_id else None
        session = self.datamodel.session
        if only_id:  # "#12": that customer and no name ("#x": nobody)
            one = select(Customer.id).where(Customer.id == number)
            if session.get_bind().dialect.name != "postgresql":
                return one, None
            return one, "few" if FEW_CUSTOMERS > 1 else "hashed"
        also = [select(Customer.id).where(Customer.id == number)] if number is not None else []
        if session.get_bind().dialect.name != "postgresql":
            return customers_named(self.datamodel, value, *also), None
        sized, key = g.setdefault("_customers_named", {}), (value, number)
        if key not in sized:
            named = customers_named(self.datamodel, value, *also).limit(HASHED_CUSTOMERS + 1).subquery()
            found = session.scalar(select(func.count()).select_from(named))
            sized[key] = "few" if found < FEW_CUSTOMERS else "hashed" if found <= HASHED_CUSTOMERS else "broad"
        if sized[key] == "broad":
            return customers_named_broadly(self.datamodel, value, *also), "broad"
        return customers_named(self.datamodel, value, *also), sized[key]

    def few_matches(self, value) -> bool | None:
        """Whether the list should collect the matches and sort them (None: by their count)."""
        found = self._customers(value)
        return None if found is None or found[1] is None else found[1] == "few"

    def apply(self, query, value):
        found = self._customers(value)
        return query if found is None else query.filter(self.model.customer_id.in_(found[0]))

    def apply_counting(self, query, value):
        """Up to HASHED_CUSTOMERS, their ids gathered into one array first: the rows are then
        found through the customer's index without a join (7 ms where the join took 12 for the
        credits of the customers named "smith")."""
        found = self._customers(value)
        if found is None:
            return query
        customers, how = found
        if how != "hashed":
            return query.filter(self.model.customer_id.in_(customers))
        return query.filter(self.model.customer_id == any_(func.array(customers.scalar_subquery())))

    def apply_walking(self, query, value):
        found = self._customers(value)
        if found is None:
            return query
        customers, how = found
        condition = self.model.customer_id.in_(customers)
        return query.filter(condition.is_(true()) if how == "hashed" else condition)


class FilterTextContains(FilterContains):
    """Contains, case-insensitive, with % and _ taken literally.

    On surname, the matching surnames are found first in their lexicon (each surname
    once), and their customers through an index: the same rows, without visiting
    every matching row of the table to sort them."""

    arg_name = "text_ct"
    LEXICONS = {"surname": CustomerSurname.surname}
    prefix_only = False

    def apply(self, query, value):
        column = getattr(self.model, self.column_name)
        lexicon = self.LEXICONS.get(self.column_name) if self.model is Customer else None
        if lexicon is not None:
            words = select(lexicon).where(contains(self.datamodel, lexicon, value or "", self.prefix_only))
            return query.filter(column.in_(words))
        return query.filter(contains(self.datamodel, column, value or "", self.prefix_only))


class FilterTextStartsWith(FilterTextContains):
    """Starts with, case-insensitive; on surname through the lexicon, as "contains"."""

    name = FilterStartsWith.name
    arg_name = "text_sw"
    prefix_only = True


class _Compare(BaseFilter):
    """Compare a number or date column, parsing the value first; a bad value matches nothing."""

    op = None

    def apply(self, query, value):
        parsed = self.parsed(value)
        if parsed is None:
            return query.filter(false())
        return query.filter(self.condition(parsed))

    def parsed(self, value):
        """The value as the column's type (a date, a whole number, a Decimal), or None."""
        if self.datamodel.is_date(self.column_name):
            return iso_date(value)
        if self.datamodel.is_integer(self.column_name):
            return whole_number(value)  # compared as integer, so the index on the column is used
        return decimal_number(value)

    def condition(self, parsed):
        """The condition on each row, given the parsed value."""
        return getattr(getattr(self.model, self.column_name), self.op)(parsed)


class FilterValueEqual(_Compare):
    name = "Equal to"
    arg_name = "val_eq"
    op = "__eq__"


class FilterValueGreater(_Compare):
    name = "From"
    arg_name = "val_ge"
    op = "__ge__"


class FilterValueSmaller(_Compare):
    name = "To"
    arg_name = "val_le"
    op = "__le__"


class _OnBalanceCopy:
    """A customer's balance compared on its copy, customer_balance.balance (CustomerBalance):
    customer.balance has no index, and "Equal to 12.34" or "From 100000" would read every customer.
    The customers are found by a range of ix_customer_balance_sort, (balance, customer_id), as a
    semi-join. The same rows: the ledger moves the copy with customer.balance."""

    def condition(self, parsed):
        copies = select(CustomerBalance.customer_id).where(getattr(CustomerBalance.balance, self.op)(parsed))
        return Customer.id.in_(copies)

    def apply_walking(self, query, value):
        """Sorted by balance, the walk reads customer_balance already (ListInterface.walked_ids):
        the row it reads is compared, so the walk is a range of the index, where a second copy
        looked up per row would first read every row sorted before the matches."""
        if not any(table.is_derived_from(CustomerBalance.__table__) for table in query.statement.get_final_froms()):
            return self.apply(query, value)
        parsed = self.parsed(value)
        return query.filter(false() if parsed is None else getattr(CustomerBalance.balance, self.op)(parsed))


class FilterBalanceEqual(_OnBalanceCopy, FilterValueEqual):
    pass


class FilterBalanceGreater(_OnBalanceCopy, FilterValueGreater):
    pass


class FilterBalanceSmaller(_OnBalanceCopy, FilterValueSmaller):
    pass


def _customers_with_tag(tag_id: int):
    # A semi-join read from the (tag_id, customer_id) index: ten times faster than a
    # correlated EXISTS per customer when counting.
    return select(customer_tag.c.customer_id).where(customer_tag.c.tag_id == tag_id)


class FilterHasTag(BaseFilter):
    """Customers that carry the tag with this id."""

    name = "Has tag"
    arg_name = "tag"

    def apply(self, query, value):
        tag_id = whole_number(getattr(value, "id", value))
        if tag_id is None:
            return query.filter(false())
        return query.filter(Customer.id.in_(_customers_with_tag(tag_id)))


class FilterHasNotTag(FilterHasTag):
    name = "Has not tag"
    arg_name = "no_tag"

    def apply(self, query, value):
        tag_id = whole_number(getattr(value, "id", value))
        if tag_id is None:
            return query
        return query.filter(Customer.id.not_in(_customers_with_tag(tag_id)))


class FilterReseller(FilterRelationOneToManyEqual):
    """Reseller is (by id), without loading the reseller row first."""

    name = "Is"
    arg_name = "reseller"

    def apply(self, query, value):
        reseller_id = whole_number(getattr(value, "id", value))
        if reseller_id is None:
            return query.filter(false())
        return query.filter(Customer.reseller_id == reseller_id)


def _status_column(value):
    """The column to compare a status with: status_index (indexed) holds every status but
    active and disabled as they are, so those two are compared on status itself."""
    return Customer.status if value in IN_SERVICE else Customer.status_index


class FilterStatusEqual(FilterEqual):
    """Status is: from the index for dormant, blocked and archived (see Customer.status_index)."""

    def apply(self, query, value):
        return query.filter(_status_column(value) == value)


class FilterStatusNotEqual(FilterNotEqual):
    """Status is not: "not archived" (the list's default) is answered from the index alone."""

    def apply(self, query, value):
        return query.filter(_status_column(value) != value)


CUSTOMER_FILTERS = {
    "name": [FilterSearch, FilterTextContains, FilterTextStartsWith],
    "first_name": [FilterTextContains, FilterTextStartsWith, FilterEqual],
    "surname": [FilterTextContains, FilterTextStartsWith, FilterEqual],
    "company_name": [FilterTextContains, FilterTextStartsWith, FilterEqual],
    "email": [FilterTextContains, FilterTextStartsWith, FilterEqual],
    "phone": [FilterTextContains, FilterTextStartsWith],
    "third_party_reference": [FilterTextContains, FilterEqual],
    "advertising_source": [FilterTextContains, FilterEqual],
    "id": [FilterValueEqual, FilterValueGreater, FilterValueSmaller],
    "balance": [FilterBalanceGreater, FilterBalanceSmaller, FilterBalanceEqual],
    "joined_on": [FilterValueGreater, FilterValueSmaller, FilterValueEqual],
    "status": [FilterStatusEqual, FilterStatusNotEqual],
    "customer_type": [FilterEqual, FilterNotEqual],
    "currency": [FilterEqual, FilterNotEqual],
    "tags": [FilterHasTag, FilterHasNotTag],
    "reseller": [FilterReseller],
}


class CustomerFilterConverter(SQLAFilterConverter):
    def convert(self, col_name):
        if col_name in CUSTOMER_FILTERS:
            return [f(col_name, self.datamodel) for f in CUSTOMER_FILTERS[col_name]]
        return super().convert(col_name)
