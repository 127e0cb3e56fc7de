"""Files attached to a customer (the Files tab of the customer's page)."""
from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.customers import Customer
from app.models.resellers import utcnow


class CustomerFile(Model):
    """A file uploaded on a customer.

    filename: the sanitised original name, shown to users and offered on download.
    stored_name: a random token (hex), the file's name on disk in FILES_FOLDER; never
    derived from anything the user sent.
    """

    __tablename__ = "customer_file"
    __table_args__ = (
        # A customer's files, newest first.
        Index("ix_customer_file_customer_id", "customer_id", "id"),
        UniqueConstraint("stored_name", name="uq_customer_file_stored_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    stored_name: Mapped[str] = mapped_column(String(64), nullable=False)
    content_type: Mapped[str] = mapped_column(String(100), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    uploaded_by: Mapped[str | None] = mapped_column(String(128))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)

    customer: Mapped[Customer] = relationship(Customer)

    def __repr__(self) -> str:
        return self.filename
