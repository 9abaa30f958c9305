"""The intake API against each database it runs on: a SQLite file and PostgreSQL, both built by the migrations.

PostgreSQL gets a schema of its own per test session (dropped at the end), so runs never see each other's rows.
Set TEST_DATABASE_URL to point at another server; an unreachable server fails the run (`make test` starts one).
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.db import make_engine, upgrade
from bot.leads.delivery import Delivery
from bot.leads.models import Lead
from bot.main import create_app
from bot.shared.outbox import Outbox
from tests import redis_env
from tests.bot.leads.fakes import FakeIntake
from tests.bot.sessions import use_sessions

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
API_KEY = "test-intake-key"  # scope "create"
ADMIN_KEY = "test-intake-admin-key"  # scope "read/erase"
ADMIN = {"X-API-Key": ADMIN_KEY}
GIVEN_AT = datetime(2025, 1, 2, 3, 4, tzinfo=timezone.utc)


def _sqlite(directory: Path) -> Iterator[Engine]:
    url = f"sqlite:///{directory / 'leads.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _postgres() -> Iterator[Engine]:
    admin = make_engine(POSTGRES_URL)
    try:
        with admin.connect():
            pass
    except OperationalError:
        admin.dispose()
        pytest.fail(f"PostgreSQL not reachable at {POSTGRES_URL}: run `make postgres` or set TEST_DATABASE_URL")
    schema = f"test_leads_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        with engine.begin() as connection:  # the migrations run on a connection pinned to the test schema
            upgrade(connection=connection)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "sqlite":
        yield from _sqlite(tmp_path_factory.mktemp("sqlite"))
    else:
        yield from _postgres()


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    factory = sessionmaker(engine, expire_on_commit=False)
    yield factory
    with factory.begin() as session:  # each test starts from an empty table
        session.execute(delete(Lead))


@pytest.fixture(scope="session")
def app() -> FastAPI:
    return create_app()


@pytest.fixture
def client(app: FastAPI, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("INTAKE_API_KEY", API_KEY)
    monkeypatch.setenv("INTAKE_ADMIN_KEY", ADMIN_KEY)

    use_sessions(app, sessions)
    yield TestClient(app, headers={"X-API-Key": API_KEY})
    app.dependency_overrides.clear()


@pytest.fixture
def count(sessions: sessionmaker[Session]) -> Callable[[], int]:
    """How many rows the leads table holds now."""

    def rows() -> int:
        with sessions() as session:
            return session.scalar(select(func.count()).select_from(Lead)) or 0

    return rows


def lead_body(**changes: Any) -> Dict[str, Any]:
    """A valid lead body; keyword arguments replace top-level fields."""
    body: Dict[str, Any] = {
        "kind": "lead",
        "conversation_id": "conv-1",
        "channel": "web",
        "language": "en",
        "profile": dict(PROFILE),
        "contact": {"person": "Li Hua", "email": "li.hua@example.com", "phone": "138 0013 8000"},
        "consent": {"given": True, "notice_version": "2025-01", "given_at": GIVEN_AT.isoformat()},
        "transcript": [
            {"sender": "user", "text": "I run a software company", "timestamp": 1735786800.0},
            {"sender": "bot", "text": "Which partner category interests you?", "timestamp": 1735786801.5},
        ],
    }
    body.update(changes)
    return body


def handoff_body(**changes: Any) -> Dict[str, Any]:
    body = lead_body(kind="handoff", note="When is the next application deadline?")
    del body["profile"]
    body.update(changes)
    return body


# A Fortune Global 500 carmaker already in Guangzhou: a qualified strategic partner under the shipped rules.
PROFILE: Dict[str, Any] = {
    "name": "Acme Motors",
    "org_type": "enterprise",
    "credentials": ["fortune_global_500"],
    "industry": "Automobiles and electric vehicles",
    "country": "Germany",
    "guangzhou_presence": "present",
}


# --- the outbox and the delivery worker (test_outbox.py, test_delivery.py) ---------------------------------

OUTBOX_REDIS_DB = int(os.environ.get("TEST_OUTBOX_REDIS_DB", "13"))


@pytest.fixture
def outbox() -> Iterator[Outbox]:
    client = redis_env.client(OUTBOX_REDIS_DB, decode_responses=True)
    prefix = f"t{time.time_ns()}"
    yield Outbox(client, prefix=prefix)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.fixture
def intake() -> FakeIntake:
    return FakeIntake()


@pytest.fixture
def delivery(outbox: Outbox, intake: FakeIntake) -> Delivery:
    http = httpx.Client(transport=httpx.MockTransport(intake.handler))
    worker = Delivery(outbox, http, "http://intake", "k", tracker_prefix=outbox.base.rsplit(":", 1)[0])
    return worker
