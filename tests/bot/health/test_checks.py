"""/readyz's Redis check: Redis is down only when it does not answer, never because of what the outbox holds."""

from __future__ import annotations

from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.health import checks
from bot.main import create_app
from bot.shared.outbox import Outbox
from tests import redis_env

REDIS_DB = 13


@pytest.fixture
def poisoned(monkeypatch: pytest.MonkeyPatch) -> Iterator[Outbox]:
    """The project's own outbox keys in the test database, holding one job of each bad sort."""
    monkeypatch.setenv("REDIS_DB", str(REDIS_DB))
    client = redis_env.client(REDIS_DB, decode_responses=True)
    outbox = Outbox(client)
    for key in client.scan_iter(outbox.key("*")):
        client.delete(key)
    outbox.put("lead", "c1", {"kind": "lead"})
    for i, raw in enumerate(("{not json", b"\xff\xfe", '{"kind": "lead"}', '{"created_at": "x", "attempts": "y"}')):
        client.hset(outbox.key("jobs"), f"bad-{i}", raw)
        client.hset(outbox.key("dead"), f"bad-{i}", raw)
    client.set(outbox.key("worker", "ghost"), "garbage")
    yield outbox
    for key in client.scan_iter(outbox.key("*")):
        client.delete(key)
    client.close()


def test_a_poisoned_outbox_leaves_redis_up_with_its_figures(poisoned: Outbox) -> None:
    assert checks.redis_and_delivery() == {"status": "up", "delivery": {"workers": 0, "pending": 5, "dead": 4}}


def test_readyz_does_not_report_redis_down_for_a_bad_job(poisoned: Outbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_URL", "http://127.0.0.1:9")  # no Rasa here: degraded, but for that reason only
    monkeypatch.delenv("RASA_URLS", raising=False)
    response = TestClient(create_app()).get("/readyz")
    body = response.json()
    assert response.status_code == 503 and body["rasa"]["status"] == "down"
    assert body["redis"] == {"status": "up", "delivery": {"workers": 0, "pending": 5, "dead": 4}}


def test_an_outbox_that_cannot_be_read_is_reported_without_calling_redis_down(
        poisoned: Outbox, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Outbox) -> dict:
        raise TypeError("a bug in the figures")

    monkeypatch.setattr(Outbox, "stats", broken)
    assert checks.redis_and_delivery() == {"status": "up", "delivery": {"error": "TypeError"}}


def test_redis_that_does_not_answer_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_PORT", "9")
    assert checks.redis_and_delivery() == {"status": "down", "error": "ConnectionError"}
