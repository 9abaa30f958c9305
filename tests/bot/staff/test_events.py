"""New leads reach the console (Redis pub/sub) and, when qualified, the staff Telegram chat; neither can
hold up or fail the intake."""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List
from urllib.parse import parse_qs

import pytest
from fastapi.testclient import TestClient

from bot.staff import events
from tests import redis_env
from tests.bot.leads.conftest import API_KEY, lead_body
from tests.bot.staff.conftest import profile

TOKEN = "123456:TEST-token"
CHAT_ID = "-100200300"


class FakeTelegram(ThreadingHTTPServer):
    calls: List[Dict[str, Any]]
    delay: float = 0.0


class _Handler(BaseHTTPRequestHandler):
    server: FakeTelegram

    def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        kind = self.headers.get("Content-Type") or ""
        if "json" in kind:
            data = json.loads(body or b"{}")
        else:  # python-telegram-bot posts a form
            data = {k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()}
        time.sleep(self.server.delay)
        self.server.calls.append({"path": self.path, "data": data})
        result: Any = True
        if self.path.endswith("/sendMessage"):
            result = {"message_id": 1, "date": int(time.time()), "chat": {"id": int(CHAT_ID), "type": "group"},
                      "text": data.get("text", "")}
        elif self.path.endswith("/getMe"):
            result = {"id": 1, "is_bot": True, "first_name": "staff", "username": "staff_bot"}
        payload = json.dumps({"ok": True, "result": result}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(params=["/bot", ""])  # PTB's form and the server root are both accepted
def telegram(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[FakeTelegram]:
    server = FakeTelegram(("127.0.0.1", 0), _Handler)
    server.calls = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("STAFF_TELEGRAM_CHAT_ID", CHAT_ID)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", f"http://127.0.0.1:{server.server_port}{request.param}")
    monkeypatch.setenv("STAFF_CONSOLE_URL", "https://staff.example.org")
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadPoolExecutor]:
    """One worker, so waiting for a no-op task waits for everything submitted before it."""
    executor = ThreadPoolExecutor(max_workers=1)
    monkeypatch.setattr(events, "_pool", executor)
    yield executor
    executor.shutdown(wait=True)


def _drain(pool: ThreadPoolExecutor) -> None:
    pool.submit(lambda: None).result(timeout=30)


def _post(client: TestClient, **changes: Any):
    response = client.post("/api/leads", json=lead_body(**changes), headers={"X-API-Key": API_KEY})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_qualified_lead_alerts_the_staff_chat_without_contact_details(client, telegram, pool) -> None:
    lead = _post(client)
    assert lead["assessment"]["qualified"] is True
    _drain(pool)
    sent = [c for c in telegram.calls if c["path"] == f"/bot{TOKEN}/sendMessage"]
    assert len(sent) == 1 and str(sent[0]["data"]["chat_id"]) == CHAT_ID
    text = sent[0]["data"]["text"]
    assert f"https://staff.example.org/staff/leads/{lead['id']}" in text and "strategic_partner" in text
    for private in ("li.hua@example.com", "Li Hua", "8613800138000", "138 0013 8000"):
        assert private not in text


def test_a_slow_telegram_does_not_delay_the_intake(client, telegram, pool) -> None:
    telegram.delay = 3.0
    started = time.monotonic()
    _post(client, conversation_id="slow")
    assert time.monotonic() - started < 2.0  # answered before Telegram did
    assert telegram.calls == []
    _drain(pool)
    assert [c for c in telegram.calls if c["path"].endswith("/sendMessage")]  # and the alert still went out


def test_unqualified_leads_and_hand_offs_do_not_alert(client, telegram, pool) -> None:
    unqualified = _post(client, conversation_id="u", profile={"name": "Tiny", "org_type": "individual"})
    assert unqualified["assessment"]["qualified"] is False
    response = client.post("/api/leads", json=lead_body(kind="handoff", conversation_id="h", profile=None,
                                                        note="call me"), headers={"X-API-Key": API_KEY})
    assert response.status_code == 201
    _drain(pool)
    assert [c for c in telegram.calls if c["path"].endswith("/sendMessage")] == []


def test_a_dead_telegram_or_redis_does_not_fail_the_intake(client, pool, monkeypatch, caplog) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("STAFF_TELEGRAM_CHAT_ID", CHAT_ID)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:9/bot")  # nothing listens there
    redis_env.use_dead_redis(monkeypatch)
    caplog.set_level(logging.WARNING)
    lead = _post(client, profile=profile(name="Dead Network Co"))
    _drain(pool)
    messages = [r.getMessage() for r in caplog.records]
    assert any("staff Telegram alert" in m and lead["id"] in m for m in messages), messages
    assert any("could not publish" in m for m in messages), messages
    assert not any("li.hua@example.com" in m or TOKEN in m for m in messages)


def test_new_leads_are_published_for_the_console_without_contact_details(client, staff_env, pool) -> None:
    subscriber = staff_env.pubsub()
    subscriber.subscribe(events.channel())
    assert subscriber.get_message(timeout=2)["type"] == "subscribe"
    lead = _post(client, language="zh")
    _drain(pool)
    message = subscriber.get_message(timeout=5)
    subscriber.close()
    assert message is not None and message["channel"] == events.channel() == "gzcp:staff:leads:14"
    data = json.loads(message["data"])
    assert data["id"] == lead["id"] and data["kind"] == "lead" and data["language"] == "zh" and data["qualified"] is True
    assert "li.hua@example.com" not in message["data"] and "Li Hua" not in message["data"]


def test_an_idempotent_replay_is_not_announced_twice(client, staff_env, pool) -> None:
    subscriber = staff_env.pubsub()
    subscriber.subscribe(events.channel())
    subscriber.get_message(timeout=2)
    body, headers = lead_body(conversation_id="once"), {"X-API-Key": API_KEY, "Idempotency-Key": "k-1"}
    assert client.post("/api/leads", json=body, headers=headers).status_code == 201
    assert client.post("/api/leads", json=body, headers=headers).status_code == 200
    _drain(pool)
    received = [subscriber.get_message(timeout=1) for _ in range(2)]
    subscriber.close()
    assert sum(1 for m in received if m) == 1
