"""The RQ worker `flask worker` runs: jobs in this process, inside the app's context."""
from rq import SimpleWorker

from app.extensions import db


class AppWorker(SimpleWorker):
    """An RQ worker that runs each job in the app context it was started in, with a fresh session."""

    def execute_job(self, job, queue):
        try:
            return super().execute_job(job, queue)
        finally:
            db.session.remove()
