"""Command-line set-up and operations: `flask setup`, `flask seed`, `flask demo-users`, `flask worker`,
`flask jobs run-due`."""
import os
import secrets
import string
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.extensions import db


def strong_password() -> str:
    """A random password that passes FAB's complexity rule."""
    rng = secrets.SystemRandom()
    parts = ([rng.choice(string.ascii_uppercase) for _ in range(3)]
             + [rng.choice(string.ascii_lowercase) for _ in range(8)]
             + [rng.choice(string.digits) for _ in range(3)] + [rng.choice("!#%*+-=?@")])
    rng.shuffle(parts)
    return "".join(parts)


def ensure_user(username: str, role_name: str, password: str, reseller_id=None, email=None):
    """Create a user if missing; returns (user, created)."""
    sm = current_app.appbuilder.sm
    user = sm.find_user(username=username)
    if user is not None:
        return user, False
    role = sm.find_role(role_name)
    user = sm.add_user(username, username.capitalize(), "User", email or f"{username}@example.com",
                       role, password=password)
    if user and reseller_id is not None:
        user.reseller_id = reseller_id
        db.session.commit()
    return user, True


def _keep_login(username: str, password: str) -> Path:
    """Write the first admin's login to instance/admin-login.txt (the folder is made on a fresh
    clone), readable by its owner only; returns the file."""
    folder = Path(current_app.instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "admin-login.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"username: {username}\npassword: {password}\n")
    path.chmod(0o600)  # a file left by an older set-up keeps its mode through O_CREAT
    return path


def register(app: Flask) -> None:
    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
    def worker(burst):
        """Run background jobs from Redis (bulk actions, message delivery) and, unless --burst, the
        periodic jobs (app/jobs/schedule.py) on RQ's cron."""
        from app.jobs import get_queue
        from app.jobs.worker import AppWorker, PeriodicScheduler
        queue = get_queue()
        if queue is None:
            raise click.ClickException("Set REDIS_URL to run a worker; without it, jobs run in-process.")
        periodic = None if burst else PeriodicScheduler(current_app._get_current_object(), queue).start()
        try:
            AppWorker([queue], connection=queue.connection).work(burst=burst, with_scheduler=True)
        finally:
            if periodic is not None:
                periodic.stop()

    jobs_group = AppGroup("jobs", help="Background work.")

    @jobs_group.command("run-due")
    def run_due():
        """Run the periodic jobs that are due (app/jobs/schedule.py; each once, whoever else runs
        them) and the due work: first sends and retries of messages, sends a stopped worker left.
        Without Redis, run it from cron every minute. Exits 1 when a periodic job failed."""
        from app.jobs import schedule, tasks
        lines, failures = [], []
        for name, outcome in tasks.run_scheduled().items():
            if outcome.status == "failed":
                failures.append(f"{name} failed: {outcome.error}")
            done = ", ".join(f"{n} {what}" for what, n in outcome.result.items() if n)
            if done:
                lines.append(done if name == schedule.DUE_WORK else f"{name}: {done}")
        click.echo("\n".join(lines) if lines else "Nothing was due.")
        for failure in failures:
            click.echo(failure, err=True)
        if failures:
            raise SystemExit(1)

    app.cli.add_command(jobs_group)

    ledger_group = AppGroup("ledger", help="The money ledger.")

    @ledger_group.command("check")
    def ledger_check():
        """Recompute every balance, outstanding and unallocated rest from the documents and compare
        them with the ledger and the cached figures; exits 1 listing each difference."""
        from app.extensions import db
        from app.services.billing import ledger
        differences = ledger.check(db.session)
        for difference in differences:
            click.echo(str(difference), err=True)
        if differences:
            raise SystemExit(1)
        click.echo("The ledger agrees with the documents.")

    app.cli.add_command(ledger_group)

    @app.cli.command("setup")
    @click.option("--admin-username", default="admin")
    @click.option("--admin-password", default=None,
                  help="Default: a random one, printed once (production) or kept in instance/admin-login.txt.")
    def setup(admin_username, admin_password):
        """Create permissions and default roles, and the first admin if there are no users."""
        sm = current_app.appbuilder.sm
        created = sm.create_roles_and_permissions()
        if created:
            click.echo(f"Created roles: {', '.join(created)}")
        if sm.count_users() == 0:
            password = admin_password or strong_password()
            ensure_user(admin_username, sm.auth_role_admin, password)
            if current_app.config["APP_ENV"] == "production":
                # Shown once, kept nowhere: a file beside the code would outlive the first login.
                click.echo(f"Created admin user: username: {admin_username} password: {password}")
                click.echo("Note it now: it is shown only this once, and no file keeps it.")
            else:
                click.echo(f"Created admin user {admin_username}: login in {_keep_login(admin_username, password)}")

    @app.cli.command("seed")
    @click.option("--customers", default=300, show_default=True)
    @click.option("--resellers", default=20, show_default=True)
    @click.option("--tags", default=50, show_default=True)
    @click.option("--seed", default=1, show_default=True, help="Random seed, for repeatable data.")
    def seed(customers, resellers, tags, seed):
        """Add realistic customers with contacts, addresses, tags and resellers, and their money: invoices,
        payments, allocations and ledger entries (bulk, fast)."""
        from app.services.demo_data import generate
        counts = generate(db.session, customers, resellers=resellers, tags=tags, seed=seed)
        click.echo("Added " + ", ".join(f"{n} {t}" for t, n in counts.items()))

    @app.cli.command("demo-users")
    def demo_users():
        """Create one user per default role (Finance, Staff, Read-only, Reseller) for trying the app."""
        from sqlalchemy import select

        from app.models import Reseller
        reseller_id = db.session.scalar(select(Reseller.id).order_by(Reseller.id).limit(1))
        for username, role, reseller in (("finance", "Finance", None), ("staff", "Staff", None),
                                         ("readonly", "Read-only", None),
                                         ("reseller", "Reseller", reseller_id)):
            password = strong_password()
            _, created = ensure_user(username, role, password, reseller_id=reseller)
            if created:
                click.echo(f"Created {role} user: username: {username} password: {password}")
