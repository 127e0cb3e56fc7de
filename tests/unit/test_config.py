"""Configuration: safe development defaults, and no silent defaults in production."""
import pytest

import config


def test_production_without_secret_key_is_an_error(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(config.ConfigError, match="SECRET_KEY must be set"):
        config.load()


def test_short_secret_key_is_an_error(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "short")
    with pytest.raises(config.ConfigError, match="at least 32 bytes"):
        config.load()


def test_development_key_is_generated_once_and_kept(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path)
    first = config.load()["SECRET_KEY"]
    assert len(first) >= 32
    assert config.load()["SECRET_KEY"] == first


def test_database_url_defaults_to_sqlite_and_takes_postgres_urls(monkeypatch):
    assert config.database_url(None).startswith("sqlite:///")
    assert config.database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert config.database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"


def test_rate_limits_are_kept_in_redis_when_there_is_one(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    cfg = config.load()
    assert cfg["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"
    assert cfg["AUTH_RATE_LIMITED"] and cfg["RATELIMIT_ENABLED"] and cfg["FAB_PASSWORD_COMPLEXITY_ENABLED"]
    assert cfg["FAB_CREATE_DB"] is False and cfg["FAB_UPDATE_PERMS"] is False
