"""The web app with its chat gateway in front of a fake Rasa, and the real Redis (test database)."""

from __future__ import annotations

import os
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.chat import identity
from bot.main import create_app
from tests import redis_env
from tests.fakes.rasa import FakeRasa
from tests.fakes.server import ServerThread

REDIS_DB = os.environ.get("TEST_REDIS_DB", os.environ.get("REDIS_DB", "15"))


@pytest.fixture
def rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa()
    with ServerThread(fake.app) as server:
        fake.url = server.url  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
def chat_env(monkeypatch, rasa: FakeRasa) -> FakeRasa:
    monkeypatch.setenv("RASA_URL", rasa.url)  # type: ignore[attr-defined]
    monkeypatch.setenv("RASA_AUTH_TOKEN", rasa.token)
    redis_env.use_db(monkeypatch, int(REDIS_DB))
    monkeypatch.setenv("CHAT_RATE_PER_MINUTE", "1000")
    monkeypatch.setenv("CHAT_RATE_PER_MINUTE_IP", "1000")
    monkeypatch.setenv("CHAT_ALLOWED_ORIGINS", "https://partner-site.example")
    monkeypatch.setenv("CHAT_RASA_TIMEOUT_SECONDS", "1")
    return rasa


@pytest.fixture
def client(chat_env) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client
    r = redis_env.client(int(REDIS_DB))
    keys = list(r.scan_iter(match="gzcp:chat:*"))
    if keys:
        r.delete(*keys)


@pytest.fixture
def session_id() -> str:
    """A conversation token the server issued (bot.chat.identity), as a browser holds it."""
    return identity.issue_token()


def web_sender(token: str) -> str:
    """The Rasa sender id of the conversation `token` names (what Rasa and staff see instead of the token)."""
    return f"web-{identity.conversation_of(token)}"


def session_headers(token: str) -> dict:
    return {identity.HEADER: token}
