"""Waiting for a condition instead of sleeping a fixed time."""
import time


def wait_for(condition, timeout: float = 10, interval: float = 0.01, message: str = ""):
    """Poll `condition()` until it returns something true, and return that; fail after `timeout`
    seconds (with `message`, or the condition's name)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(message or f"gave up after {timeout} s waiting for {condition.__name__}")
        time.sleep(interval)
