"""Customer ids that live on after a merge: the duplicate's id points at the customer it was
merged into, so old links, bookmarks and references still find it."""
from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.resellers import utcnow


class CustomerAlias(Model):
    __tablename__ = "customer_alias"

    alias_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    customer_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True)
    merged_by: Mapped[str | None] = mapped_column(String(128))
    merged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
