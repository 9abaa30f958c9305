"""GET /metrics: every counter moves when its event happens, in-process (intake) and across processes
(chat channels, fallbacks, delivery worker: the shared Redis hash). Real Redis, database 13; a fake Rasa
and a fake intake stand in for the services; the intake's database is a temporary SQLite file."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, Iterator, List

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import sessionmaker

from bot.chat.rasa import RasaClient
from bot.chat.service import ChatService
from bot.chat.store import LanguageMemory
from bot.db import make_engine, upgrade
from bot.leads.delivery import Delivery
from bot.main import create_app
from bot.metrics.delivery import retry_reason
from bot.metrics.exporter import sample
from bot.shared.funnel import Funnel
from bot.shared.metrics import CHAT_MESSAGES, CHAT_RASA_LATENCY, metrics_key
from bot.shared.outbox import Outbox
from bot.shared.redis_conn import KEY_PREFIX
from bot.telegram.bridge import Bridge
from bot.telegram.keyboards import PayloadStore
from tests import redis_env
from tests.bot.leads.conftest import handoff_body, lead_body
from tests.bot.leads.test_outbox import FakeIntake, make_due
from tests.bot.sessions import use_sessions
from tests.fakes.rasa import FakeRasa
from tests.fakes.server import ServerThread

REDIS_DB = 13
API_KEY = "metrics-test-key"
ADMIN_KEY = "metrics-test-admin-key"  # reads the outbox (scope read/erase)


def _redis() -> redis.Redis:
    return redis_env.client(REDIS_DB, decode_responses=True)


def _clean(client: redis.Redis) -> None:
    for pattern in (metrics_key(), f"{KEY_PREFIX}:outbox:*", f"{KEY_PREFIX}:chat:*", f"{KEY_PREFIX}:funnel:*"):
        for key in client.scan_iter(match=pattern):
            client.delete(key)


@pytest.fixture
def r13() -> Iterator[redis.Redis]:
    client = _redis()
    _clean(client)
    yield client
    _clean(client)
    client.close()


@pytest.fixture
def rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa()
    with ServerThread(fake.app) as server:
        fake.url = server.url  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, rasa: FakeRasa, r13: redis.Redis) -> FakeRasa:
    redis_env.use_db(monkeypatch, REDIS_DB)
    monkeypatch.setenv("RASA_URL", rasa.url)  # type: ignore[attr-defined]
    monkeypatch.delenv("RASA_URLS", raising=False)
    monkeypatch.setenv("RASA_AUTH_TOKEN", rasa.token)
    monkeypatch.setenv("CHAT_RASA_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("CHAT_RASA_RETRY_DELAYS", "")  # Rasa down: answer 503 at once
    monkeypatch.setenv("CHAT_RATE_PER_MINUTE", "1000")
    monkeypatch.setenv("CHAT_RATE_PER_MINUTE_IP", "1000")
    monkeypatch.setenv("INTAKE_API_KEY", API_KEY)
    monkeypatch.setenv("INTAKE_ADMIN_KEY", ADMIN_KEY)
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    return rasa


@pytest.fixture
def client(env: FakeRasa, tmp_path: Path) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path / 'leads.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = sessionmaker(engine, expire_on_commit=False)

    app = create_app()
    use_sessions(app, sessions)
    with TestClient(app) as test_client:
        yield test_client
    engine.dispose()


def scrape(client: TestClient) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return response.text


class Delta:
    """Sample values before an action, compared with after."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.before = scrape(client)

    def __call__(self, name: str, **labels: str) -> float:
        return sample(scrape(self.client), name, **labels) - sample(self.before, name, **labels)


def label_values(text: str) -> List[str]:
    return [v for family in text_string_to_metric_families(text) for s in family.samples for v in s.labels.values()]


def chat(client: TestClient, message: Any) -> httpx.Response:
    return client.post("/api/chat", json={"message": message})  # no token: each a new conversation


# --- the endpoint -----------------------------------------------------------------------------------


def test_a_messages_counts_ride_on_the_next_messages_round_trip_or_follow_a_second_later(
        client: TestClient, env: FakeRasa, r13: redis.Redis) -> None:
    """No extra Redis round trip a message: its counts are written with the next message's rate-limit script,
    and when none follows, by a timer about a second later; never lost, never counted twice."""
    scrape(client)  # writes anything an earlier test left pending, so the hash starts from what it holds
    _clean(r13)
    field = next(name for name, _ in CHAT_MESSAGES.increment(channel="web", outcome="answered"))

    def stored() -> int:
        return int(r13.hget(metrics_key(), field) or 0)

    chat(client, "hello")
    assert stored() == 0  # still pending in the web app
    chat(client, "hello again")
    assert stored() == 1  # the first, written by the second's round trip
    deadline = time.monotonic() + 5
    while stored() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stored() == 2  # the second, by the timer
    time.sleep(1.5)
    assert stored() == 2 and sample(scrape(client), "gzcp_chat_messages_total", channel="web", outcome="answered") == 2


def test_metrics_are_prometheus_text_named_gzcp(client: TestClient) -> None:
    text = scrape(client)
    families = {f.name for f in text_string_to_metric_families(text)}
    ours = {name for name in families if name.startswith("gzcp_")}
    assert {
        "gzcp_chat_messages",
        "gzcp_chat_rasa_latency_seconds",
        "gzcp_chat_fallbacks",
        "gzcp_leads_intake",
        "gzcp_delivery_results",
        "gzcp_delivery_retries",
        "gzcp_outbox_pending_jobs",
        "gzcp_outbox_dead_jobs",
        "gzcp_metrics_redis_up",
    } <= ours
    assert all(name.startswith(("gzcp_", "process_", "python_")) for name in families)
    assert sample(text, "gzcp_metrics_redis_up") == 1
    # Every series exists from the start (at 0), so rate() works from the first event.
    assert 'gzcp_chat_messages_total{channel="telegram",outcome="unavailable"} 0.0' in text


def test_metrics_can_require_a_token(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_TOKEN", "s3cret")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_redis_down_still_serves_the_in_process_metrics(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    redis_env.use_dead_redis(monkeypatch)
    text = scrape(client)
    assert sample(text, "gzcp_metrics_redis_up") == 0 and "gzcp_leads_intake_total" in text


def test_label_values_come_from_fixed_lists() -> None:
    [(field, amount)] = CHAT_MESSAGES.increment(channel="li.hua@example.com", outcome="+86 138 0013 8000")
    assert field == "gzcp_chat_messages_total|channel=other,outcome=other" and amount == 1
    with pytest.raises(ValueError):
        CHAT_MESSAGES.increment(channel="web")
    fields = dict(CHAT_RASA_LATENCY.observation(0.3, channel="web"))
    assert fields == {
        "gzcp_chat_rasa_latency_seconds_bucket|channel=web,le=0.5": 1,
        "gzcp_chat_rasa_latency_seconds_sum|channel=web": 0.3,
    }


# --- chat -------------------------------------------------------------------------------------------


def test_an_answered_web_message_counts_and_is_timed(client: TestClient, env: FakeRasa) -> None:
    delta = Delta(client)
    assert chat(client, "What is the program? li.hua@example.com +86 138 0013 8000").status_code == 200
    assert delta("gzcp_chat_messages_total", channel="web", outcome="answered") == 1
    assert delta("gzcp_chat_rasa_latency_seconds_count", channel="web") == 1
    assert delta("gzcp_chat_rasa_latency_seconds_sum", channel="web") > 0
    assert delta("gzcp_chat_messages_total", channel="web", outcome="rejected") == 0
    text = scrape(client)
    assert not any(("example.com" in v or "138" in v or "program" in v) for v in label_values(text))
    assert "example.com" not in text and "program" not in text


def test_rejected_web_messages_count_as_rejected_and_never_reach_rasa(client: TestClient, env: FakeRasa) -> None:
    delta = Delta(client)
    bad_json = client.post("/api/chat", content=b"{not json", headers={"Content-Type": "application/json"})
    too_long = chat(client, "x" * 5000)
    empty = chat(client, "   ")
    assert (bad_json.status_code, too_long.status_code, empty.status_code) == (400, 413, 422)
    assert delta("gzcp_chat_messages_total", channel="web", outcome="rejected") == 3
    assert delta("gzcp_chat_messages_total", channel="web", outcome="answered") == 0
    assert delta("gzcp_chat_rasa_latency_seconds_count", channel="web") == 0  # Rasa was never asked
    assert env.received == []


def test_rasa_down_counts_as_unavailable(client: TestClient, env: FakeRasa) -> None:
    env.down = True
    delta = Delta(client)
    assert chat(client, "hello").status_code == 503
    assert delta("gzcp_chat_messages_total", channel="web", outcome="unavailable") == 1
    assert delta("gzcp_chat_rasa_latency_seconds_count", channel="web") == 1


class _FakeBot:
    def __init__(self) -> None:
        self.sent: List[Dict[str, Any]] = []

    async def send_chat_action(self, chat_id: int, action: str) -> None:
        pass

    async def send_message(self, chat_id: int, text: str, reply_markup: Any = None) -> None:
        self.sent.append({"chat_id": chat_id, "text": text})


def test_telegram_messages_count_in_the_shared_hash(client: TestClient, env: FakeRasa) -> None:
    """The bridge is another process: it adds to the Redis hash that the web app's /metrics exports."""

    async def relay_twice() -> List[Dict[str, Any]]:
        store = redis_env.async_client(REDIS_DB, decode_responses=True)
        rasa = RasaClient(env.url, env.token, retry_delays=(), timeout=2.0)  # type: ignore[attr-defined]
        bridge = Bridge(ChatService(rasa, LanguageMemory(store)), PayloadStore(store), rasa, store)
        context = SimpleNamespace(bot=_FakeBot())
        await bridge.relay(context, 4242, "What is the program?", "en")  # type: ignore[arg-type]
        env.down = True
        await bridge.relay(context, 4242, "And the benefits?", "en")  # type: ignore[arg-type]
        await bridge.close()
        return context.bot.sent

    delta = Delta(client)
    sent = asyncio.run(relay_twice())
    assert sent[0]["text"].startswith("echo:") and len(sent) == 2
    assert delta("gzcp_chat_messages_total", channel="telegram", outcome="answered") == 1
    assert delta("gzcp_chat_messages_total", channel="telegram", outcome="unavailable") == 1
    assert delta("gzcp_chat_rasa_latency_seconds_count", channel="telegram") == 2
    assert delta("gzcp_chat_messages_total", channel="web", outcome="answered") == 0


def test_fallbacks_recorded_by_the_actions_are_counted(client: TestClient, r13: redis.Redis) -> None:
    delta = Delta(client)
    funnel = Funnel(r13)  # what actions/funnel.py uses on the action server
    funnel.record_unanswered("what is the deadline? call 13800138000", language="en", reason="unknown_topic", topics=["deadline"])
    funnel.record_unanswered("asdfgh", language="zh", reason="fallback")
    funnel.record_unanswered("qwerty", language="zh", reason="fallback")
    assert delta("gzcp_chat_fallbacks_total", reason="unknown_topic", language="en") == 1
    assert delta("gzcp_chat_fallbacks_total", reason="fallback", language="zh") == 2
    assert not any("138" in v or "deadline" in v for v in label_values(scrape(client)))


# --- lead intake ------------------------------------------------------------------------------------


def post_lead(client: TestClient, body: Any, key: str = API_KEY, **headers: str) -> httpx.Response:
    return client.post("/api/leads", json=body, headers={"X-API-Key": key, **headers})


def test_intake_outcomes_are_counted_by_kind(client: TestClient) -> None:
    delta = Delta(client)
    assert post_lead(client, lead_body(), **{"Idempotency-Key": "m-1"}).status_code == 201
    assert post_lead(client, lead_body(), **{"Idempotency-Key": "m-1"}).status_code == 200
    assert post_lead(client, lead_body(channel="other"), **{"Idempotency-Key": "m-1"}).status_code == 422
    assert post_lead(client, handoff_body()).status_code == 201
    assert post_lead(client, lead_body(consent={"given": False})).status_code == 422
    assert post_lead(client, lead_body(profile={"org_type": "spaceship"})).status_code == 422
    assert post_lead(client, handoff_body(), key="wrong").status_code == 401
    raw = client.post("/api/leads", content=b"{oops", headers={"X-API-Key": API_KEY, "Content-Type": "application/json"})
    assert raw.status_code == 422
    assert delta("gzcp_leads_intake_total", kind="lead", outcome="created") == 1
    assert delta("gzcp_leads_intake_total", kind="lead", outcome="replayed") == 1
    assert delta("gzcp_leads_intake_total", kind="lead", outcome="conflict") == 1
    assert delta("gzcp_leads_intake_total", kind="handoff", outcome="created") == 1
    assert delta("gzcp_leads_intake_total", kind="lead", outcome="rejected") == 2  # no consent; unreadable profile
    # Refused before the body is read (bot.leads.guard): the kind is not known.
    assert delta("gzcp_leads_intake_total", kind="unknown", outcome="unauthorized") == 1
    assert delta("gzcp_leads_intake_total", kind="unknown", outcome="rejected") == 1  # not JSON: no kind to read
    text = scrape(client)
    assert "li.hua" not in text and "Acme" not in text and not any("@" in v for v in label_values(text))


def test_an_intake_without_a_key_counts_as_unconfigured(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_API_KEY", "")
    delta = Delta(client)
    assert post_lead(client, lead_body()).status_code == 503
    assert delta("gzcp_leads_intake_total", kind="unknown", outcome="unconfigured") == 1  # body never read


# --- the delivery worker -------------------------------------------------------------------------------


def test_worker_retries_and_results_are_counted_and_the_outbox_shows(client: TestClient, r13: redis.Redis) -> None:
    """The real worker code against a fake intake, on the project's own key prefix in the test database."""
    intake = FakeIntake()
    outbox = Outbox(r13)
    worker = Delivery(outbox, httpx.Client(transport=httpx.MockTransport(intake.handler)), "http://intake", "k")
    delta = Delta(client)

    first = outbox.put("lead", "c1", {"kind": "lead", "conversation_id": "c1"})
    intake.up = False
    worker.deliver_due()
    text = scrape(client)
    assert delta("gzcp_delivery_retries_total", kind="lead", reason="unreachable") == 1
    assert sample(text, "gzcp_outbox_pending_jobs") == 1 and sample(text, "gzcp_outbox_retrying_jobs") == 1

    intake.up = True
    make_due(outbox)
    worker.deliver_due()
    outbox.put("lead", "c1", {"kind": "lead", "conversation_id": "c1"}, job_id=first.id)  # handed in again
    worker.deliver_due()  # the intake already has it: a replay
    intake.refuse = True
    outbox.put("handoff", "c2", {"kind": "handoff", "conversation_id": "c2"})
    worker.deliver_due()

    assert delta("gzcp_delivery_results_total", kind="lead", result="delivered") == 1
    assert delta("gzcp_delivery_results_total", kind="lead", result="replayed") == 1
    assert delta("gzcp_delivery_results_total", kind="handoff", result="refused") == 1
    text = scrape(client)
    assert sample(text, "gzcp_outbox_pending_jobs") == 0 and sample(text, "gzcp_outbox_dead_jobs") == 1


def test_retry_reasons_follow_the_workers_wording() -> None:
    assert retry_reason("ConnectError: intake unreachable") == "unreachable"
    assert retry_reason("HTTP 503: intake is not configured") == "http_5xx"
    assert retry_reason("HTTP 429: slow down") == "http_4xx"
    assert retry_reason("conversation still in use; erasing its history later") == "busy"
    assert retry_reason("bad answer: HTTP 201 that is not JSON") == "bad_answer"
    assert retry_reason("worker error: TypeError at delivery.py:120") == "worker_error"


POISON = ("{not json", b"\xff\xfe binary", "[1, 2]", '{"id": "x", "kind": "lead"}', '{"created_at": "soon"}')


def test_poisoned_jobs_in_the_outbox_and_dead_letters_never_break_a_scrape(client: TestClient, r13: redis.Redis) -> None:
    outbox = Outbox(r13)
    good = outbox.put("lead", "c1", {"kind": "lead", "conversation_id": "c1"})
    for i, raw in enumerate(POISON):
        r13.hset(outbox.key("jobs"), f"bad-{i}", raw)
        r13.zadd(outbox.key("due"), {f"bad-{i}": 0})
        r13.hset(outbox.key("dead"), f"dead-{i}", raw)
    r13.set(outbox.key("worker", "ghost"), "not a time")
    text = scrape(client)
    assert sample(text, "gzcp_metrics_redis_up") == 1
    assert sample(text, "gzcp_outbox_pending_jobs") == 1 + len(POISON)
    assert sample(text, "gzcp_outbox_dead_jobs") == len(POISON)
    listed = client.get("/api/leads/outbox", headers={"X-API-Key": ADMIN_KEY})
    assert listed.status_code == 200 and listed.json()["pending"] == 1 + len(POISON)
    assert {j["id"] for j in listed.json()["refused"]} == {f"dead-{i}" for i in range(len(POISON))}
    # The worker dead-letters the unreadable ones and counts them; the scrape still answers.
    delta = Delta(client)
    worker = Delivery(outbox, httpx.Client(transport=httpx.MockTransport(FakeIntake().handler)), "http://intake", "k")
    worker.deliver_due()
    assert [j.id for j in outbox.pending()] == [] and good.id not in {j.id for j in outbox.dead()}
    assert delta("gzcp_delivery_results_total", kind="other", result="unreadable") == len(POISON)
    assert sample(scrape(client), "gzcp_outbox_dead_jobs") == 2 * len(POISON)


def test_a_bug_in_the_outbox_figures_costs_those_figures_not_the_scrape(client: TestClient,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Outbox) -> dict:
        raise TypeError("a bug in the figures")

    monkeypatch.setattr(Outbox, "stats", broken)
    text = scrape(client)
    assert sample(text, "gzcp_metrics_redis_up") == 1 and "gzcp_outbox_pending_jobs" not in text
    assert "gzcp_chat_messages_total" in text


def test_the_shared_hash_holds_only_known_fields(client: TestClient, env: FakeRasa, r13: redis.Redis) -> None:
    chat(client, "hello")
    chat(client, "hello again")  # carries the first message's counts in its round trip
    fields = r13.hgetall(metrics_key())
    assert fields and all(f.startswith("gzcp_") and "|" in f for f in fields)
    assert json.dumps(fields).count("hello") == 0
