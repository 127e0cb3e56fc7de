"""Realistic demo and benchmark data, loaded in bulk.

PostgreSQL gets COPY; other databases get batched multi-row INSERTs. Neither
goes through the ORM, so a million customers load in minutes, and the rows
carry no audit entries (nobody edited them).
"""
import random
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.models import (Address, Allocation, Contact, ContactPhone, Customer, CustomerService, DocumentSequence,
                        Invoice, InvoiceLine, LedgerEntry, Payment, PaymentMethod, Reseller, Tag, TaxRate, customer_tag)
from app.models.fx import FxRate
from app.models.money import CATEGORIES
from app.models.price_books import PriceBook, PriceBookItem
from app.services import money
from app.services.customers.validate import names
from app.services.db import insert_rows
from app.services.settings import settings

FIRST = ("Oliver George Harry Jack Jacob Noah Charlie Thomas Oscar William James Leo Alfie Henry "
         "Amelia Olivia Isla Emily Poppy Ava Isabella Jessica Lily Sophie Grace Sophia Mia Evie "
         "Ruby Ella Scarlett Chloe Aisha Mohammed Zoe Priya Wojciech Siobhan Dafydd Eilidh Chidi "
         "Ana Lucas Marta Tomasz Fatima Yusuf Hannah Ewan Rhys Niamh Ciaran Freya Finley").split()
SURNAMES = ("Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans "
            "Walker White Roberts Green Hall Wood Jackson Clarke Patel Khan Lewis James Phillips "
            "Mason Mitchell Rose Davis Rodriguez Cox Alexander Morgan Moore Mills King Baker Harris "
            "Lee Hughes Edwards Hill Turner Ward Watson Scott Young Allen Cooper Parker Morris Bell "
            "Murphy Kelly Price Bennett Griffiths Ali Begum Nowak Kowalski O'Brien McDonald Campbell "
            "Stewart Anderson MacLeod Fraser Reid Ross Hamilton Graham Kerr Sutherland Byrne Doyle "
            "Lynch Quinn Gallagher Okafor Adeyemi Mensah Singh Kaur Chen Wang Nguyen Silva Costa "
            "Zieliński Müller Ó'Súilleabháin").split()
COMPANY_WORDS = ("Acme Northern Southern Western Eastern Bright Clear Crystal Swift Prime Summit "
                 "Harbour Riverside Oak Willow Granite Cedar Maple Phoenix Atlas Orbit Vertex "
                 "Meridian Pioneer Heritage Castle Bridge Valley Coastal Highland").split()
COMPANY_KINDS = ("Lettings Estates Property Services Facilities Homes Dental Surgery Motors Bakery "
                 "Cafe Hotel Gym Garage Logistics Systems Networks Hosting Solutions").split()
TOWNS = [("London", "Greater London", "SW1A"), ("Manchester", "Greater Manchester", "M1"),
         ("Leeds", "West Yorkshire", "LS1"), ("Bristol", "Bristol", "BS1"),
         ("Cardiff", "South Glamorgan", "CF10"), ("Glasgow", "Lanarkshire", "G1"),
         ("Edinburgh", "Midlothian", "EH1"), ("Belfast", "County Antrim", "BT1"),
         ("Norwich", "Norfolk", "NR1"), ("York", "North Yorkshire", "YO1"),
         ("Brighton", "East Sussex", "BN1"), ("Oxford", "Oxfordshire", "OX1")]
# Town centres, for the demo addresses' coordinates (the customer page's map and distance).
TOWN_CENTRES = {"London": (51.5074, -0.1278), "Manchester": (53.4808, -2.2426), "Leeds": (53.8008, -1.5491),
                "Bristol": (51.4545, -2.5879), "Cardiff": (51.4816, -3.1791), "Glasgow": (55.8642, -4.2518),
                "Edinburgh": (55.9533, -3.1883), "Belfast": (54.5973, -5.9301), "Norwich": (52.6309, 1.2974),
                "York": (53.9600, -1.0873), "Brighton": (50.8225, -0.1372), "Oxford": (51.7520, -1.2577)}
STREETS = "High Street|Station Road|Church Lane|Victoria Road|Mill Lane|Park Avenue|The Green|Kings Road|Queen Street|Manor Close".split("|")
TAG_NAMES = ("residential commercial groupon vip late-payer fortnightly monthly weekly four-weekly "
             "landlord tenant gold silver bronze fibre broadband hosting vps domain email-only "
             "referral newsletter key-holder pets gate-code ladder-access pure-water conservatory "
             "gutter solar-panels student care-home school office retail restaurant hotel "
             "charity council nhs trial annual quarterly priority do-not-call paper-invoice "
             "direct-debit card cash bacs").split()
SOURCES = ("Google", "Facebook", "Referral", "Leaflet", "Van signage", "Groupon", "Yell", "Checkatrade")
RESELLER_NAMES = ("Alpha Networks", "Beacon Telecom", "Cobalt Hosting", "Delta Broadband",
                  "Echo Cleaning Co", "Foxglove Property", "Granite IT", "Harbour Connect",
                  "Iris Web", "Juniper Services", "Kestrel Comms", "Lumen Fibre", "Mosaic Lettings",
                  "Nimbus Cloud", "Orchard Facilities", "Pylon Power", "Quartz Digital",
                  "Rowan Window Care", "Sable Systems", "Thistle Trades")


# Money, in the order its rows are written (each refers to the ones before).
MONEY_TABLES = {"invoice": Invoice, "invoice_line": InvoiceLine, "payment": Payment, "allocation": Allocation,
                "ledger_entry": LedgerEntry}

DRAMA_PREFIXES = ("+44207946", "+44113496", "+44161496", "+44117496", "+44118496", "+44141496")


def _phone(rng) -> str:
    # Ofcom's drama ranges: valid numbers that reach nobody.
    return f"{rng.choice(DRAMA_PREFIXES)}0{rng.randrange(1000):03d}"


def generate(session: Session, customers: int, resellers: int = 20, tags: int = 50,
             seed: int = 1, batch: int = 20_000, with_money: bool = True) -> dict:
    """Add `customers` customers (with contacts, addresses and tags) to the database, and with
    `with_money` their invoices, payments and ledger (see _money_rows).

    Resellers and tags are created up to the numbers asked for, if fewer exist.
    Returns the counts written. Commits.
    """
    rng = random.Random(seed)
    reseller_ids = _ensure(session, Reseller, "name",
                           [RESELLER_NAMES[i] if i < len(RESELLER_NAMES) else f"Reseller {i + 1}"
                            for i in range(resellers)])
    tag_ids = _ensure(session, Tag, "name",
                      [TAG_NAMES[i] if i < len(TAG_NAMES) else f"tag-{i + 1}" for i in range(tags)])
    _price_book(session)
    session.commit()

    start_customer = (session.scalar(select(func.max(Customer.id))) or 0) + 1
    start_contact = (session.scalar(select(func.max(Contact.id))) or 0) + 1
    start_address = (session.scalar(select(func.max(Address.id))) or 0) + 1
    start_phone = (session.scalar(select(func.max(ContactPhone.id))) or 0) + 1
    counters = {"customer": 0, "contact": 0, "address": 0, "contact_phone": 0, "customer_tag": 0, "service": 0,
                **{name: 0 for name in MONEY_TABLES}}
    tables = {
        "customer": Customer.__table__, "contact": Contact.__table__,
        "address": Address.__table__, "contact_phone": ContactPhone.__table__,
        "customer_tag": customer_tag, "service": CustomerService.__table__,
        **{name: model.__table__ for name, model in MONEY_TABLES.items()},
    }
    # Services come from a stream of their own, so the customers are the same with or without them.
    service_rng = random.Random(seed + 1)
    money_rng = random.Random(seed + 2)  # and money from a third
    rows = {name: [] for name in tables}
    ids = {"contact": start_contact, "address": start_address, "contact_phone": start_phone,
           **{name: (session.scalar(select(func.max(model.id))) or 0) + 1 for name, model in MONEY_TABLES.items()}}
    sequence = session.get(DocumentSequence, "invoice") or DocumentSequence(kind="invoice", prefix="INV-", next_number=1)
    session.add(sequence)
    ids["number"] = sequence.next_number
    rate = session.scalar(select(TaxRate).where(TaxRate.is_default.is_(True)))
    percent = rate.percent if rate is not None else Decimal(0)
    method_ids = list(session.scalars(select(PaymentMethod.id))) or [None]
    today = date.today()
    for n in range(customers):
        cid = start_customer + n
        for table, row in _customer_rows(rng, cid, ids, reseller_ids, tag_ids, today):
            rows[table].append(row)
        rows["service"].extend(_service_rows(service_rng, cid, rows["customer"][-1]["status"], today))
        customer = rows["customer"][-1]
        if with_money:
            customer["balance"] = _money_rows(money_rng, customer, rows, ids, (rate, percent), method_ids, today,
                                              sequence.prefix)
        if (n + 1) % batch == 0:
            _flush(session, tables, rows, counters)
    _flush(session, tables, rows, counters)
    sequence.next_number = ids["number"]
    _fix_sequences(session)
    session.commit()
    return counters


# The default price book's items (code, name, unit price, category); one priced in another currency,
# converted at a demo FX rate when it is picked.
PRICE_BOOK_ITEMS = [
    ("LAB-HR", "Labour per hour", "45.00", "labour"), ("LAB-CALL", "Call-out charge", "65.00", "labour"),
    ("LAB-OOH", "Out-of-hours labour per hour", "70.00", "labour"), ("SRV-BOIL", "Annual boiler service", "89.00", "labour"),
    ("SRV-GAS", "Gas safety certificate", "60.00", "labour"), ("WIN-STD", "Window clean, standard house", "18.00", "labour"),
    ("PRT-VALVE", "Thermostatic radiator valve", "24.50", "parts"), ("PRT-TAP", "Mixer tap cartridge", "12.75", "parts"),
    ("PRT-FILT", "Magnetic system filter", "95.00", "parts"), ("PRT-PUMP", "Circulating pump", "149.00", "parts"),
    ("NET-RTR", "Wi-Fi router", "79.99", "parts"), ("OTH-DISP", "Waste disposal", "25.00", "other"),
]
FOREIGN_ITEM = ("IMP-VALVE", "Imported pressure valve (EU supplier)", "38.00", "parts")


def _price_book(session) -> None:
    """A dozen items in the default book (and one in EUR, with a rate to convert it), once."""
    book = session.scalar(select(PriceBook).where(PriceBook.is_default.is_(True)))
    if book is None or session.scalar(select(PriceBookItem.id).where(PriceBookItem.price_book_id == book.id).limit(1)):
        return
    base = settings.base_currency
    foreign = "EUR" if base != "EUR" else "USD"
    rows = [{"price_book_id": book.id, "code": code, "name": name, "unit_price": Decimal(price), "currency": base,
             "category": category, "active": True} for code, name, price, category in PRICE_BOOK_ITEMS]
    code, name, price, category = FOREIGN_ITEM
    rows.append({"price_book_id": book.id, "code": code, "name": name, "unit_price": Decimal(price),
                 "currency": foreign, "category": category, "active": True})
    insert_rows(session, PriceBookItem.__table__, rows)
    if base == "GBP" and session.scalar(select(FxRate.id).where(FxRate.from_currency == foreign,
                                                                FxRate.to_currency == base).limit(1)) is None:
        session.add(FxRate(from_currency=foreign, to_currency=base, rate=Decimal("0.86"),
                           effective_on=date.today() - timedelta(days=7)))


def _ensure(session, model, column, wanted: list[str]) -> list[int]:
    existing = dict(session.execute(select(getattr(model, column), model.id)).all())
    for name in wanted:
        if name not in existing:
            obj = model(**{column: name})
            session.add(obj)
            session.flush()
            existing[name] = obj.id
    return [existing[name] for name in wanted]


def _customer_rows(rng, cid, ids, reseller_ids, tag_ids, today) -> Iterator[tuple[str, dict]]:
    company = rng.random() < 0.15
    first, surname = rng.choice(FIRST), rng.choice(SURNAMES)
    values = dict(
        customer_type="company" if company else "private",
        title=None if company else rng.choice(("Mr", "Mrs", "Ms", "Miss", "Dr", None)),
        first_name=None if company else first,
        surname=None if company else surname,
        company_name=(f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)} Ltd" if company else None),
    )
    name, sort_name = names(values)
    local = (values["company_name"] or f"{first}.{surname}").lower().replace(" ", ".").replace("'", "")
    yield "customer", dict(
        id=cid, **values, name=name, sort_name=sort_name,
        email=f"{local}.{cid}@example.com",
        phone=_phone(rng), mobile=_phone(rng) if rng.random() < 0.5 else None,
        currency="GBP" if rng.random() < 0.9 else rng.choice(("EUR", "USD")),
        status=rng.choices(("active", "disabled", "dormant", "blocked", "archived"), (85, 5, 5, 2, 3))[0],
        joined_on=today - timedelta(days=rng.randrange(3650)),
        balance=0, reseller_id=rng.choice(reseller_ids) if reseller_ids and rng.random() < 0.8 else None,
        advertising_source=rng.choice(SOURCES) if rng.random() < 0.6 else None,
        creditor_days=rng.choice((None, 0, 7, 14, 30)),
        building_type=rng.choice((None, "House", "Flat", "Office", "Shop")),
        third_party_reference=f"ACC{cid:07d}" if rng.random() < 0.3 else None,
        created_at=today,
    )
    for tag_id in rng.sample(tag_ids, min(2, len(tag_ids))):
        yield "customer_tag", dict(customer_id=cid, tag_id=tag_id)
    for k in range(1 if rng.random() < 0.6 else 2):
        contact_id = ids["contact"]
        ids["contact"] += 1
        cf, cs = (first, surname) if k == 0 else (rng.choice(FIRST), rng.choice(SURNAMES))
        yield "contact", dict(id=contact_id, customer_id=cid, title=None, first_name=cf, surname=cs,
                              position="Office manager" if company and k == 0 else None,
                              email=f"{cf}.{cs}.{contact_id}@example.com".lower().replace("'", ""),
                              is_primary=k == 0, website_url=None, twitter_url=None,
                              facebook_url=None, linkedin_url=None)
        yield "contact_phone", dict(id=ids["contact_phone"], contact_id=contact_id,
                                    kind=rng.choice(("mobile", "office", "home")), number=_phone(rng))
        ids["contact_phone"] += 1
    for k in range(1 + (rng.random() < 0.3) + (rng.random() < 0.1)):
        town, county, area = rng.choice(TOWNS)
        relationship = rng.choice(("tenant", "letting agent", "key holder")) if k and rng.random() < 0.5 else None
        yield "address", dict(
            id=ids["address"], customer_id=cid, kind="billing" if k == 0 else "site",
            line1=f"{rng.randrange(1, 300)} {rng.choice(STREETS)}", line2=None, line3=None,
            town=town, county=county, postcode=f"{area} {rng.randrange(1, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}",
            country="GB", **_near(town, ids["address"]),
            access_name=f"{rng.choice(FIRST)} {rng.choice(SURNAMES)}" if relationship else None,
            access_phone=_phone(rng) if relationship else None, access_relationship=relationship)
        ids["address"] += 1


def _near(town: str, address_id: int) -> dict:
    """A point within ~2 km of the town centre, from the address id (the random stream that
    picks everything else is left as it was)."""
    lat, lng = TOWN_CENTRES[town]
    return {"latitude": round(lat + (address_id * 7919 % 2001 - 1000) / 60000, 6),
            "longitude": round(lng + (address_id * 104729 % 2001 - 1000) / 40000, 6)}


SERVICES = [("Broadband 40", "25.00", "monthly"), ("Fibre 900", "45.00", "monthly"),
            ("Web hosting", "120.00", "annually"), ("Domain name", "12.00", "annually"),
            ("Window cleaning", "18.00", "monthly"), ("Gutter clearing", "60.00", "quarterly"),
            ("Boiler service", "85.00", "annually"), ("Office cleaning", "240.00", "monthly")]


CYCLE_MONTHS = {"monthly": 1, "quarterly": 3, "annually": 12}


def _next_period(started: date, months: int, today: date) -> date:
    """The first period start on or after `today` of a service started on `started` (its periods start on
    that day of the month, the last day of shorter months): the demo's services bill from now on."""
    n = 0
    while True:
        index = started.year * 12 + started.month - 1 + n * months
        year, month = divmod(index, 12)
        last = (date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1) - timedelta(days=1)).day
        found = date(year, month + 1, min(started.day, last))
        if found >= today:
            return found
        n += 1


def _service_rows(rng, cid, status, today) -> list[dict]:
    """None, one or two services, each billed from its next period on (a cancelled one: ended today);
    a disabled customer's are suspended by its disable."""
    picked = rng.sample(SERVICES, rng.choices((0, 1, 2), (30, 50, 20))[0])
    rows = []
    for name, price, cycle in picked:
        service_status = "suspended" if status == "disabled" else rng.choices(("active", "cancelled"), (9, 1))[0]
        started = today - timedelta(days=rng.randrange(1500))
        cancelled = service_status == "cancelled"
        rows.append(dict(customer_id=cid, name=name, price=price, billing_cycle=cycle, status=service_status,
                         suspended_by_disable=status == "disabled", started_on=started, created_at=today,
                         next_billing_on=None if cancelled else _next_period(started, CYCLE_MONTHS[cycle], today),
                         billing_day=started.day, ends_on=today if cancelled else None))
    return rows


def _money_rows(rng, customer, rows, ids, tax, method_ids, today, prefix) -> Decimal:
    """About three issued invoices a customer (one to three lines each), two payments for every
    three invoices with their allocations (now and then an overpayment: account credit), a few
    voided invoices, and every ledger entry they post. Returns the customer's balance."""
    cid, currency = customer["id"], customer["currency"]
    rate, percent = tax
    balance = Decimal(0)
    joined = customer["joined_on"]

    def entry(amount, kind, table, source_id, on):
        rows["ledger_entry"].append(dict(id=_next(ids, "ledger_entry"), customer_id=cid, currency=currency,
                                         amount=amount, kind=kind, source_table=table, source_id=source_id,
                                         effective_on=on, reason=None, created_by_id=None, created_at=today))

    for _ in range(rng.choices((0, 1, 2, 3, 4, 5, 6), (10, 12, 18, 20, 18, 12, 10))[0]):
        invoice_id = _next(ids, "invoice")
        issued_on = max(joined, today - timedelta(days=rng.randrange(730)))
        lines = []
        for position in range(rng.choice((1, 1, 2, 3))):
            name, price, _cycle = rng.choice(SERVICES)
            quantity = Decimal(rng.choice((1, 1, 1, 2, 3)))
            net = money.quantize(quantity * Decimal(price), currency)
            tax_ = money.quantize(net * percent / 100, currency)
            lines.append(dict(id=_next(ids, "invoice_line"), invoice_id=invoice_id, position=position, description=name,
                              category=rng.choice(CATEGORIES), quantity=quantity, unit_price=Decimal(price),
                              tax_rate_id=rate.id if rate is not None else None,
                              tax_name=rate.name if rate is not None else None, tax_percent=percent, net=net, tax=tax_))
        net_total, tax_total = sum(l["net"] for l in lines), sum(l["tax"] for l in lines)
        total = net_total + tax_total
        void = rng.random() < 0.02
        outstanding = Decimal(0) if void else total
        number = f"{prefix}{ids['number']}"
        ids["number"] += 1
        invoice = dict(id=invoice_id, customer_id=cid, currency=currency, number=number, status="issued",
                       issue_date=issued_on, due_date=issued_on + timedelta(days=14), notes=None,
                       billing_address=customer["name"], net_total=net_total, tax_total=tax_total, total=total,
                       outstanding=outstanding, issued_at=issued_on, voided_at=today if void else None,
                       void_reason="Raised in error" if void else None, created_by_id=None, created_at=issued_on)
        rows["invoice"].append(invoice)
        rows["invoice_line"].extend(lines)
        entry(total, "invoice", "invoice", invoice_id, issued_on)
        balance += total
        if void:
            invoice["status"] = "void"
            entry(-total, "invoice_void", "invoice", invoice_id, today)
            balance -= total
            continue
        if rng.random() < 0.67:  # paid: in full, in part, or over
            paid_on = min(today, issued_on + timedelta(days=rng.randrange(40)))
            amount = rng.choices((total, money.quantize(total / 2, currency), total + money.quantize(10, currency)),
                                 (80, 12, 8))[0]
            if amount <= 0:
                continue
            allocated = min(amount, total)
            payment_id = _next(ids, "payment")
            rows["payment"].append(dict(
                id=payment_id, customer_id=cid, currency=currency, kind="payment", amount=amount,
                unallocated=amount - allocated, is_credit=amount > allocated, received_on=paid_on,
                method_id=rng.choice(method_ids), reference=f"PAY{payment_id:08d}", notes=None, reason=None,
                invoice_id=invoice_id, created_by_id=None, created_at=paid_on))
            rows["allocation"].append(dict(id=_next(ids, "allocation"), payment_id=payment_id, invoice_id=invoice_id,
                                           customer_id=cid, currency=currency, amount=allocated, allocated_on=paid_on,
                                           reverses_id=None, created_by_id=None, created_at=paid_on))
            entry(-amount, "payment", "payment", payment_id, paid_on)
            balance -= amount
            invoice["outstanding"] = total - allocated
            invoice["status"] = "paid" if allocated >= total else "part_paid"
    return balance


def _next(ids: dict, name: str) -> int:
    ids[name] += 1
    return ids[name] - 1


def _flush(session, tables, rows, counters) -> None:
    for name in ("customer", "customer_tag", "contact", "contact_phone", "address", "service", *MONEY_TABLES):
        batch = rows[name]
        if not batch:
            continue
        insert_rows(session, tables[name], batch)
        counters[name] += len(batch)
        batch.clear()
    session.flush()


def _fix_sequences(session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in ("customer", "contact", "address", "contact_phone", "tag", "reseller", *MONEY_TABLES):
        session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"))
