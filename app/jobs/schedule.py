"""The periodic jobs, declared here and nowhere else.

Each is a `Periodic` (app/services/periodic.py): a name (its row in `periodic_job`, kept across
releases: renaming one starts it afresh), what the job monitor calls it, the task (a function of
app.jobs.tasks taking no arguments and returning its counts) and its schedule: `every=` seconds
(slots on the clock) or `cron=` (the server's local time, as RQ reads it).

Who runs them: with Redis, `flask worker` (RQ's CronScheduler enqueues tasks.run_periodic at each
slot: app/jobs/worker.py); without it, `flask jobs run-due` from the system's cron (README) and the
dev server's own thread (app/jobs watch_due_work). Each run claims its slot in the database, so the
two together, or several workers, still run a slot once.

To add one (statements, payment reminders, billing runs): write its task in app/jobs/tasks.py,
idempotent (keyed so that a second run sends or bills nothing), and add a line to PERIODIC.
"""
from app.jobs import tasks
from app.services.periodic import Periodic

DUE_WORK = "due-work"
PAYMENT_REMINDERS = "payment-reminders"
RECURRING_BILLING = "recurring-billing"

PERIODIC: tuple[Periodic, ...] = (
    # Between its slots anyone may run the due work (it keeps each message's own due time): the
    # dev server's thread does every few seconds, a worker's maintenance when messages wait.
    Periodic(DUE_WORK, "Due work: messages due, sends a stopped worker left, pending card charges",
             tasks.run_due, every=60),
    # Daily; a run keyed by episode and step sends nothing twice, and after downtime catches up once.
    Periodic(PAYMENT_REMINDERS, "Payment reminders: the step due for each overdue customer",
             tasks.payment_reminders, cron="0 7 * * *"),
    # Daily, before the reminders; each service period is claimed once, so a run again bills nothing
    # and a run after downtime bills each missed period once.
    Periodic(RECURRING_BILLING, "Recurring billing: each customer's services due, one invoice a customer",
             tasks.recurring_billing, cron="0 6 * * *"),
)


def jobs() -> tuple[Periodic, ...]:
    """The declared jobs (read at call time, so tests may declare their own)."""
    return PERIODIC
