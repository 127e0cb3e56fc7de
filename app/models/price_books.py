"""Price books (Commusoft): lists of items (code, name, description, unit price in a currency, tax
rate, category) that invoice, quote and credit-note lines are picked from. One book is the default;
a customer may have a book of its own (customer.price_book_id; NULL: the default book).

The rules live in app/services/billing/price_books.py; the database keeps one default book, a
book's name unique, an item's code unique within its book and a price never below zero.
"""
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, false, func
from sqlalchemy import text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.money import CATEGORIES, MONEY  # noqa: F401  (CATEGORIES: an item's category)


class PriceBook(Model):
    """A named list of items; exactly one is the default (the book of customers without one)."""

    __tablename__ = "price_book"
    __table_args__ = (
        Index("ux_price_book_one_default", "is_default", unique=True,
              postgresql_where=text("is_default"), sqlite_where=text("is_default")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True, nullable=False)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=true())

    def __repr__(self) -> str:
        return self.name


class PriceBookItem(Model):
    """An item of a book: its unit price is in its own currency, converted to a customer's currency
    (at the document's date) when it is picked."""

    __tablename__ = "price_book_item"
    __table_args__ = (
        UniqueConstraint("price_book_id", "code", name="uq_price_book_item_code"),
        CheckConstraint("unit_price >= 0", name="ck_price_book_item_price"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # An item belongs to its book: deleting a book deletes its items (documents keep their lines).
    price_book_id: Mapped[int] = mapped_column(ForeignKey("price_book.id", ondelete="CASCADE"), nullable=False)
    code: Mapped[str] = mapped_column(String(40), nullable=False)
    name: Mapped[str] = mapped_column(String(160), nullable=False)
    description: Mapped[str | None] = mapped_column(String(500))
    unit_price: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    tax_rate_id: Mapped[int | None] = mapped_column(ForeignKey("tax_rate.id", ondelete="SET NULL"))
    category: Mapped[str] = mapped_column(String(10), nullable=False, default="other", server_default="other")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=true())

    price_book = relationship(PriceBook, lazy="joined")
    tax_rate = relationship("TaxRate", lazy="joined")

    def __repr__(self) -> str:
        return f"{self.code} {self.name}"


# The picker's searches within a book: a code's prefix, a name's prefix (contains: trigram on
# PostgreSQL, migration 0024; a book's scan elsewhere).
Index("ix_price_book_item_code", PriceBookItem.price_book_id, func.lower(PriceBookItem.code))
Index("ix_price_book_item_name", PriceBookItem.price_book_id, func.lower(PriceBookItem.name))
