"""Retention tests: the leads tests' databases (a SQLite file and a PostgreSQL schema, both migrated; every test
runs on each), staff rows removed after each test, and an outbox on a key prefix of its own in a test Redis DB."""

from __future__ import annotations

import os
import time
from typing import Iterator

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from bot.shared.outbox import Outbox
from bot.staff.models import AuditEntry, LeadNote
from tests import redis_env
from tests.bot.leads.conftest import engine, sessions  # noqa: F401

REDIS_DB = int(os.environ.get("TEST_OUTBOX_REDIS_DB", "13"))


@pytest.fixture(autouse=True)
def quiet_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_DB", str(REDIS_DB))  # storing a lead announces it on Redis: keep that in the test DB


@pytest.fixture
def db(sessions: sessionmaker[Session]) -> Iterator[sessionmaker[Session]]:  # noqa: F811
    yield sessions
    with sessions.begin() as session:  # the leads fixture removes the leads
        session.execute(delete(LeadNote))
        session.execute(delete(AuditEntry))


@pytest.fixture
def outbox() -> Iterator[Outbox]:
    client = redis_env.client(REDIS_DB, decode_responses=True)
    prefix = f"t{time.time_ns()}"
    yield Outbox(client, prefix=prefix)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()
