"""Integration tests: a real PostgreSQL (the session database of tests/conftest.py) and Redis."""
import os

import pytest
import redis


@pytest.fixture(scope="session")
def redis_url():
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"Redis is not reachable at {url}")
    return url
