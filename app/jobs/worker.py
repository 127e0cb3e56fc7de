"""The RQ worker `flask worker` runs: jobs in this process, inside the app's context."""
import logging
from datetime import timedelta

from rq import SimpleWorker

from app.extensions import db
from app.services.messages import delivery

log = logging.getLogger(__name__)
STUCK_AFTER = timedelta(minutes=10)


class AppWorker(SimpleWorker):
    """An RQ worker that runs each job in the app context it was started in, with a fresh session."""

    def execute_job(self, job, queue):
        try:
            return super().execute_job(job, queue)
        finally:
            db.session.remove()

    def run_maintenance_tasks(self):
        """RQ's own (on start, then every 10 minutes), and: messages a dead worker left "sending"
        are marked failed, for an admin to resend."""
        super().run_maintenance_tasks()
        try:
            recovered = delivery.recover(db.session, older_than=STUCK_AFTER)
            if recovered:
                log.warning("%d message(s) left sending by a stopped worker were marked failed", recovered)
        except Exception:  # noqa: BLE001  maintenance must not stop the worker
            log.exception("could not recover stuck messages")
            db.session.rollback()
        finally:
            db.session.remove()
