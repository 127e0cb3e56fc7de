from flask_appbuilder.security.sqla.models import User as FabUser
from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.resellers import Reseller


class AppUser(FabUser):
    """FAB's user with an optional reseller: set, it limits the user to that reseller's customers."""

    __tablename__ = "ab_user"
    __table_args__ = {"extend_existing": True}

    reseller_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("reseller.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    reseller: Mapped[Reseller | None] = relationship(Reseller)
