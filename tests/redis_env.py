"""How tests reach the test Redis: REDIS_URL when it is set (so the whole suite runs against a Redis with a
password or over TLS), else REDIS_HOST/REDIS_PORT; each test module keeps to a database number of its own."""

from __future__ import annotations

import os
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from bot.shared.redis_conn import env_for_db, resolve_url, with_db

DEAD_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def url(db: int) -> str:
    """The configured Redis, database `db`."""
    base = resolve_url(os.environ.get("REDIS_URL", ""), os.environ.get("REDIS_HOST", "127.0.0.1"),
                       int(os.environ.get("REDIS_PORT") or 6379), 0)
    return with_db(base, int(db))


def client(db: int, **kwargs: Any) -> redis.Redis:
    return redis.Redis.from_url(url(db), **kwargs)


def async_client(db: int, **kwargs: Any) -> aioredis.Redis:
    return aioredis.Redis.from_url(url(db), **kwargs)


def use_db(monkeypatch: pytest.MonkeyPatch, db: int) -> None:
    """Point the code under test (which reads REDIS_URL, else REDIS_HOST/PORT/DB) at database `db`."""
    for name, value in env_for_db(os.environ, int(db)).items():
        monkeypatch.setenv(name, value)


def use_dead_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the code under test at a Redis that is down."""
    monkeypatch.setenv("REDIS_PORT", "1")
    monkeypatch.setenv("REDIS_URL", DEAD_URL)
