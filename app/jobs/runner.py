"""Who runs a job, and whether that runner still does.

A runner is "host:pid:start" (the process's start time, so a pid the system gave to a new
process is not taken for the old one). The jobs this process is running now are kept in
memory: a job this process claims but no longer runs lost its thread.
"""
import os
import secrets
import socket
import threading
from contextlib import contextmanager

HOST = socket.gethostname()
_running: set[int] = set()
_lock = threading.Lock()


def _start_of(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # The second field (the command) is in parentheses and may hold spaces.
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def this_process() -> str:
    pid = os.getpid()  # read each time: a forked worker is another process
    return f"{HOST}:{pid}:{_start_of(pid) or ''}"


def sender() -> str:
    """A name for one delivery run of this process ("host:pid:start/token"): its claims on
    messages, and the lease it renews, are its own, apart from other runs in other threads."""
    return f"{this_process()}/{secrets.token_hex(4)}"


@contextmanager
def running(job_id: int):
    """While the block runs, this process runs `job_id`; yields the runner to record on the job."""
    with _lock:
        _running.add(job_id)
    try:
        yield this_process()
    finally:
        with _lock:
            _running.discard(job_id)


def alive(job) -> bool | None:
    """Whether `job`'s runner still runs it: True or False when this machine can tell, None
    when it cannot (another machine, or no runner recorded yet)."""
    if not job.runner:
        return None
    host, _, rest = job.runner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != HOST or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    if job.runner == this_process():
        with _lock:
            return job.id in _running
    if start:
        return _start_of(pid) == start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
