"""Long work done in the background (bulk actions, sending a batch of messages), and its progress."""
from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    DateTime,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.resellers import utcnow

# The customers a job acts on, fixed when it is confirmed (the count the user agreed to).
# No foreign key to customer (the job may delete them), nor to job: checking it once per row
# was half the time of fixing 100,000 customers (migration 0013). A job's rows are removed
# when it is done; a failed job keeps them (what it was for).
job_customer = Table(
    "job_customer",
    Model.metadata,
    Column("job_id", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", Integer, primary_key=True),
)


class Job(Model):
    """A bulk action or a batch of messages: who asked, on what, how far it got, what came of it.

    The page that started it polls it for a progress bar; `result` holds the counts
    and the reasons rows were left alone.
    """

    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="ck_job_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(String(20), nullable=False)
    params: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(8), nullable=False, default="queued")  # running, done, failed
    total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    result: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Who runs it ("host:pid:process start", app/jobs/runner.py) and when it last reported: a job
    # left queued or running by a process that died is told from one still at work by these.
    runner: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The last customer id of the chunks done (committed with each chunk): started again, the
    # job goes on after it.
    done_through: Mapped[int | None] = mapped_column(Integer)

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return int(100 * self.done / self.total) if self.total else 0
