"""`flask setup` as README runs it, in separate processes started in an empty folder."""
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from werkzeug.security import check_password_hash

REPO = Path(__file__).resolve().parents[2]
FLASK = [sys.executable, "-m", "flask"]


def files_under(folder: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in folder.rglob("*")} if folder.exists() else {}


def run(args, cwd, env):
    done = subprocess.run([*FLASK, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def environment(tmp_path, **settings):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FLASK_", "APP_", "DATABASE_", "SECRET_", "INSTANCE_", "MAIL_", "REDIS_"))}
    env.update(PYTHONPATH=str(REPO), FLASK_APP="app:create_app",
               DATABASE_URL=f"sqlite:///{tmp_path / 'setup.db'}", **settings)
    return env


def the_admins_password_works(database: Path, username: str, password: str) -> bool:
    with sqlite3.connect(database) as conn:
        (hashed,) = conn.execute("SELECT password FROM ab_user WHERE username = ?", (username,)).fetchone()
    return check_password_hash(hashed, password)


def test_readmes_production_sequence_prints_the_first_admins_password_once_and_writes_no_file(tmp_path):
    env = environment(tmp_path, SECRET_KEY="s" * 48, APP_ENV="production")
    repo_instance = files_under(REPO / "instance")
    run(["db", "upgrade"], tmp_path, env)
    out = run(["setup"], tmp_path, env)
    passwords = re.findall(r"password: (\S+)", out)
    assert len(passwords) == 1 and out.count(passwords[0]) == 1
    assert the_admins_password_works(tmp_path / "setup.db", "admin", passwords[0])
    assert not list(tmp_path.rglob("admin-login.txt")) and files_under(REPO / "instance") == repo_instance
    assert "password" not in run(["setup"], tmp_path, env)  # run again: nothing new to tell


def test_in_development_setup_keeps_the_first_admins_login_in_a_new_instance_folder(tmp_path):
    instance = tmp_path / "fresh" / "instance"
    env = environment(tmp_path, SECRET_KEY="s" * 48, INSTANCE_PATH=str(instance))
    run(["db", "upgrade"], tmp_path, env)
    out = run(["setup"], tmp_path, env)
    login = instance / "admin-login.txt"
    assert login.exists() and oct(login.stat().st_mode & 0o777) == "0o600"
    username, password = (line.split(": ", 1)[1] for line in login.read_text().splitlines())
    assert username == "admin" and the_admins_password_works(tmp_path / "setup.db", username, password)
    assert password not in out and str(login) in out  # said where it is, not shown
