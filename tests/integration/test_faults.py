"""Scale-out and faults with every part real and separate (tests/integration/cluster.py): two Rasa
replicas behind the web app's chat gateway, sharing one Redis.

A batch of users holds conversations and screenings through the gateway while Redis, one Rasa replica,
the action server and the intake are stopped and restarted in turn. A user who gets the polite "try
again" sends the same message again, as a person would. Afterwards every conversation must have gone on
where it was (no question asked twice, answers in order), every consented lead must be stored exactly
once, and no Rasa replica may have kept a conversation in memory.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional

import httpx
import pytest

from tests.integration.cluster import Cluster
from tests.integration.conftest import TOKEN
from tests.integration.test_screening_e2e import Answer, company_en, question_in, wait_until


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        c.start()
        yield c
    finally:
        c.close()


def startup_zh() -> Dict[str, Answer]:
    return {"org_type": '/inform{"choice":"enterprise"}', "org_name": "广州智造科技有限公司", "country": "中国",
            "credentials": '/inform{"choice":"none"}', "employees": "二十人左右", "industry": "工业机器人",
            "guangzhou_presence": '/inform{"choice":"present"}', "contribution": "希望在广州建立研发中心",
            "contact_person": "张伟", "email": "zhang.wei@example.cn", "phone": "跳过",
            "consent": '/inform{"choice":"yes"}', "confirmed": '/inform{"choice":"send"}'}


def refuses_zh() -> Dict[str, Answer]:
    persona = startup_zh()
    persona["consent"] = "不同意"
    return persona


QUESTIONS = [("what are the benefits?", "Canton Fair"), ("城市合伙人有哪些类别？", "城市梦想家"),
             ("what is the city partner program?", "Guangzhou"), ("合伙人有哪些权益？", "广交会")]


@dataclass
class Outcome:
    sender: str
    kind: str  # "lead", "refused" or "questions"
    asked: List[str] = field(default_factory=list)  # screening questions in the order they came
    last: str = ""


class Users:
    def __init__(self, cluster: Cluster) -> None:
        self.url = f"{cluster.gateway_url}/api/chat"
        self.http = httpx.Client(timeout=40)
        self.outcomes: List[Outcome] = []
        self.polite_replies = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def say(self, session: str, message: str) -> List[Dict[str, Any]]:
        """Send until answered; the only other answer allowed is the polite 503 (then wait and resend)."""
        deadline = time.monotonic() + 180
        while True:
            response = self.http.post(self.url, json={"session_id": session, "message": message})
            if response.status_code == 200:
                return response.json()["messages"]
            body = response.json()
            assert response.status_code == 503 and body["message"]["en"] and body["message"]["zh"], response.text
            with self.lock:
                self.polite_replies += 1
            assert time.monotonic() < deadline, f"no answer to {message!r} for 180 s"
            time.sleep(1.0)

    def screening(self, persona: Dict[str, Answer], opening: str, kind: str) -> Outcome:
        session = uuid.uuid4().hex
        outcome = Outcome(f"web-{session}", kind)
        replies = self.say(session, opening)
        for _ in range(40):
            question = question_in(replies)
            if question is None:
                outcome.last = "\n".join(r["text"] for r in replies)
                return outcome
            outcome.asked.append(question)
            answer = persona[question]
            time.sleep(random.uniform(0.2, 0.8))  # a person reads and types
            replies = self.say(session, answer if isinstance(answer, str) else answer[0])
        raise AssertionError(f"screening never ended: {outcome.asked}")

    def questions(self) -> Outcome:
        session = uuid.uuid4().hex
        outcome = Outcome(f"web-{session}", "questions")
        for question, expected in QUESTIONS:
            text = "\n".join(r["text"] for r in self.say(session, question))
            assert expected in text, f"{question!r} got an answer to something else:\n{text[:300]}"
            outcome.asked.append(question)
            time.sleep(random.uniform(0.2, 0.8))
        return outcome

    def user(self, index: int) -> None:
        plans: List[Callable[[], Outcome]] = [
            lambda: self.screening(company_en(f"user{index}-{uuid.uuid4().hex[:6]}@siemens-example.com"),
                                   "we'd like to join", "lead"),
            lambda: self.screening(startup_zh(), "我们想成为城市合伙人", "lead"),
            self.questions,
            lambda: self.screening(refuses_zh(), "我们想加入城市合伙人计划", "refused"),
        ]
        turn = index
        while not self.stop.is_set():
            outcome = plans[turn % len(plans)]()
            turn += 1
            with self.lock:
                self.outcomes.append(outcome)


def ready(url: str) -> Optional[Dict[str, Any]]:
    try:
        response = httpx.get(url, timeout=5)
        return {"code": response.status_code, **response.json()}
    except httpx.HTTPError:
        return None


def test_conversations_and_leads_survive_each_part_stopping_in_turn(cluster: Cluster) -> None:
    users = Users(cluster)
    seen: Dict[str, Any] = {}
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(users.user, i) for i in range(6)]
        time.sleep(4)

        # 1. Redis: every part depends on it. Health must say so, and recover without restarts.
        cluster.redis.stop()
        time.sleep(2.5)
        seen["gateway_without_redis"] = ready(f"{cluster.gateway_url}/readyz")
        seen["rasa_without_redis"] = ready(f"{cluster.rasa_urls[0]}/webhooks/health/ready")
        cluster.redis.start(wait=False)
        cluster.wait_redis()
        wait_until(lambda: (ready(f"{cluster.gateway_url}/readyz") or {}).get("code") == 200, 30, "readiness after Redis")
        time.sleep(3)

        # 2. One Rasa replica: the other takes its conversations meanwhile.
        cluster.rasa[0].stop()
        time.sleep(3)
        seen["gateway_one_replica"] = ready(f"{cluster.gateway_url}/readyz")
        cluster.rasa[0].start()
        time.sleep(2)

        # 3. The action server.
        cluster.actions.stop()
        time.sleep(3)
        cluster.actions.start()
        time.sleep(2)

        # 4. The intake: leads wait in the outbox.
        cluster.intake.stop()
        time.sleep(4)
        cluster.intake.start()
        time.sleep(3)

        users.stop.set()
        for future in futures:
            future.result(timeout=300)  # re-raises a user's failed assertion

    # Health told the truth while Redis was down, and the gateway still served with one replica.
    assert seen["gateway_without_redis"]["code"] == 503 and seen["gateway_without_redis"]["redis"]["status"] == "down"
    assert seen["rasa_without_redis"]["code"] == 503 and seen["rasa_without_redis"]["tracker_store_reachable"] is False
    assert seen["gateway_one_replica"]["code"] == 200 and seen["gateway_one_replica"]["rasa"]["ready_replicas"] == 1
    assert users.polite_replies > 0, "no fault reached a user: the test did not test anything"

    outcomes = users.outcomes
    assert len(outcomes) >= 12 and {o.kind for o in outcomes} == {"lead", "refused", "questions"}
    for outcome in outcomes:
        # A lost or repeated turn shows as a question asked twice; a reset as a screening cut short.
        assert len(outcome.asked) == len(set(outcome.asked)), (outcome.sender, outcome.asked)
        if outcome.kind == "lead":
            assert "on their way" in outcome.last or "谢谢" in outcome.last, outcome.last
            assert outcome.asked[-2:] == ["consent", "confirmed"], outcome.asked

    consented = [o for o in outcomes if o.kind == "lead"]
    client = cluster.client()
    wait_until(lambda: client.zcard("gzcp:outbox:due") == 0, 180, "the outbox to drain")
    for outcome in consented:
        assert len(cluster.leads(outcome.sender)) == 1, outcome.sender
    for outcome in outcomes:
        if outcome.kind != "lead":
            assert cluster.leads(outcome.sender) == [], outcome.sender
    assert cluster.lead_count() == len(consented)
    assert client.hlen("gzcp:outbox:dead") == 0

    # No replica kept a conversation in memory; each logged the outage it saw.
    for url in cluster.rasa_urls:
        health = ready(f"{url}/webhooks/health/ready")
        assert health and health["code"] == 200 and health["in_memory_fallback"] == 0
        assert health["fallback_conversations_dropped"] == 0
    assert "Redis unreachable" in (cluster.dir / f"rasa-{cluster.rasa_ports[1]}.log").read_text()


def test_one_users_messages_sent_to_both_replicas_at_once_never_interleave(cluster: Cluster) -> None:
    """Rasa's Redis lock store: a user's messages sent to both replicas at once never interleave."""
    sender = f"order-{uuid.uuid4().hex}"
    questions = [q for q, _ in QUESTIONS] * 3

    def post(i: int) -> None:
        time.sleep(i * 0.02)  # arrival order = i
        url = cluster.rasa_urls[i % 2]
        response = httpx.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": questions[i]}, timeout=60)
        assert response.status_code == 200 and response.json()

    with ThreadPoolExecutor(len(questions)) as pool:
        list(pool.map(post, range(len(questions))))
    events = httpx.get(f"{cluster.rasa_urls[0]}/conversations/{sender}/tracker", params={"token": TOKEN},
                       timeout=10).json()["events"]
    turns: List[List[str]] = []
    for event in events:
        if event["event"] == "user":
            turns.append([event["text"]])
        elif event["event"] == "bot" and turns:
            turns[-1].append(event["text"])
    assert len(turns) == len(questions)
    for turn in turns:  # each question is followed by its own answer before the next question
        expected = dict(QUESTIONS)[turn[0]]
        assert any(expected in text for text in turn[1:]), turn
