"""Staff console tests: the leads tests' databases (a SQLite file and a PostgreSQL schema, both migrated),
a Redis DB of their own (REDIS_DB=14, keys removed after each test) and helpers to log in."""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from bot.leads import service as lead_service
from bot.leads.models import Lead
from bot.leads.schemas import IntakeRequest
from bot.main import create_app
from bot.staff import service
from bot.staff.models import ApiToken, AuditEntry, FunnelEntry, KnowledgeChange, LeadNote, StaffUser
from tests import redis_env
from tests.bot.leads.conftest import API_KEY, PROFILE, engine, handoff_body, lead_body, sessions  # noqa: F401
from tests.bot.sessions import use_sessions

TEST_REDIS_DB = os.environ.get("STAFF_TEST_REDIS_DB", "14")
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def staff_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[redis.Redis]:
    """Every test: Redis DB 14, no Telegram, intake key set; the DB's keys are removed afterwards."""
    redis_env.use_db(monkeypatch, int(TEST_REDIS_DB))
    monkeypatch.setenv("INTAKE_API_KEY", API_KEY)
    for name in ("TELEGRAM_BOT_TOKEN", "STAFF_TELEGRAM_CHAT_ID", "TELEGRAM_API_BASE_URL", "STAFF_SESSION_TTL_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    client = redis_env.client(int(TEST_REDIS_DB), decode_responses=True)
    try:
        client.ping()
    except redis.RedisError:
        pytest.fail("Redis not reachable: run `make redis`")
    yield client
    keys = list(client.scan_iter("gzcp:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def db(sessions: sessionmaker[Session]) -> Iterator[sessionmaker[Session]]:  # noqa: F811
    """The test database's session factory; staff rows are removed afterwards (the leads fixture removes leads)."""
    yield sessions
    with sessions.begin() as session:
        for model in (LeadNote, AuditEntry, ApiToken, KnowledgeChange, FunnelEntry):
            session.execute(delete(model))
        session.execute(Lead.__table__.update().values(assignee_id=None))
        session.execute(delete(StaffUser))


@pytest.fixture(scope="session")
def app() -> FastAPI:
    return create_app()


@pytest.fixture
def client(app: FastAPI, db: sessionmaker[Session]) -> Iterator[TestClient]:
    use_sessions(app, db)
    # The console's default language is Chinese; these tests read it in English (test_i18n.py covers Chinese).
    with TestClient(app, headers={"Accept-Language": "en-US,en;q=0.9"}) as test_client:
        yield test_client
    app.dependency_overrides.clear()


@pytest.fixture
def make_user(db: sessionmaker[Session]) -> Callable[..., StaffUser]:
    def make(role: str = "reviewer", email: Optional[str] = None) -> StaffUser:
        with db() as session:
            return service.create_user(session, email or f"{role}@staff.example.org", role, PASSWORD)

    return make


@pytest.fixture
def make_lead(db: sessionmaker[Session]) -> Callable[..., Lead]:
    """Store a lead through the intake service (the same path as POST /api/leads); keyword args change the body."""

    def make(kind: str = "lead", **changes: Any) -> Lead:
        body = (lead_body if kind == "lead" else handoff_body)(**changes)
        with db() as session:
            return lead_service.create(session, IntakeRequest.model_validate(body)).lead

    return make


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token (read from a console page)."""
    form = client.get("/staff/login")
    response = client.post("/staff/login", data={"email": email, "password": password, "csrf_token": csrf_of(form.text),
                                                 "next": "/staff"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/staff").text)


def visible_text(html: str) -> str:
    """What a reader sees of a page: the text between tags (no attributes, scripts or styles)."""
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: List[str] = []

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.parts.append(data.strip())


# A little-giant manufacturer with no plans for Guangzhou: close to super partners, so marked for review.
REVIEW_PROFILE: Dict[str, Any] = {
    "name": "Ningbo Textile Tech", "org_type": "enterprise", "credentials": ["little_giant"], "employees": 300,
    "industry": "technical textiles", "country": "China",
}


def profile(**changes: Any) -> Dict[str, Any]:
    data = dict(PROFILE)
    data.update(changes)
    return data


# The browser tests' fixtures (a server, Chromium, pages in a locale): tests/bot/staff/browser.py.
from tests.bot.staff.browser import browser, page, pages, server  # noqa: E402, F401
