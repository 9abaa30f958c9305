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
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional

import httpx
import pytest

from bot.chat import identity
from bot.chat.replicas import Replicas
from bot.chat.service import transcript
from bot.shared.redis_conn import conversation_keys
from tests.integration.cluster import Cluster
from tests.integration.conftest import TOKEN, new_conversation
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
            response = self.http.post(self.url, json={"message": message}, headers={identity.HEADER: session})
            if response.status_code == 200:
                return response.json()["messages"]
            body = response.json()
            assert response.status_code == 503 and body["message"]["en"] and body["message"]["zh"], response.text
            with self.lock:
                self.polite_replies += 1
            assert time.monotonic() < deadline, f"no answer to {message!r} for 180 s"
            time.sleep(1.0)

    def screening(self, persona: Dict[str, Answer], opening: str, kind: str) -> Outcome:
        session, sender = new_conversation()
        outcome = Outcome(sender, kind)
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
        session, sender = new_conversation()
        outcome = Outcome(sender, "questions")
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


@pytest.fixture
def cpu_load() -> Iterator[None]:
    """One core kept busy by another process for the whole test, as on a shared CI machine."""
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        burner.kill()
        burner.wait(10)


def test_one_users_messages_sent_to_both_replicas_at_once_are_all_kept_in_arrival_order(cluster: Cluster,
                                                                                         cpu_load: None) -> None:
    """48 messages of one user, sent to the two replicas alternately, all in flight together: each is
    answered, stored exactly once, in the order it arrived, and followed by its own answer."""
    sender = f"order-{uuid.uuid4().hex}"
    keys = conversation_keys(sender)
    client = cluster.client()
    questions = [q for q, _ in QUESTIONS] * 12
    turn_ids = [f"turn-{i:03d}-{uuid.uuid4().hex[:12]}" for i in range(len(questions))]
    answers: Dict[int, List[Dict[str, Any]]] = {}

    def post(i: int) -> None:
        response = httpx.post(f"{cluster.rasa_urls[i % 2]}/webhooks/rest/webhook", timeout=120,
                              json={"sender": sender, "message": questions[i], "metadata": {"turn_id": turn_ids[i]}})
        assert response.status_code == 200, response.text
        answers[i] = response.json()

    def arrived(count: int, thread: threading.Thread) -> Callable[[], bool]:
        return lambda: int(client.get(keys.lock_seq) or 0) >= count or not thread.is_alive()

    threads = []
    for i in range(len(questions)):
        thread = threading.Thread(target=post, args=(i,))
        thread.start()
        threads.append(thread)
        # The next message goes out once this one has its place in the conversation's queue: the
        # arrival order is then known, and the messages still overlap (most wait in the queue).
        wait_until(arrived(i + 1, thread), 30, f"message {i} to arrive")
    for thread in threads:
        thread.join(180)
    assert sorted(answers) == list(range(len(questions))) and all(answers.values()), "a message got no reply"

    events = httpx.get(f"{cluster.rasa_urls[0]}/conversations/{sender}/tracker", params={"token": TOKEN},
                       timeout=10).json()["events"]
    turns: List[List[str]] = []
    stored_ids: List[str] = []
    for event in events:
        if event["event"] == "user":
            turns.append([event["text"]])
            stored_ids.append(event["message_id"])
        elif event["event"] == "bot" and turns:
            turns[-1].append(event["text"])
    assert stored_ids == turn_ids  # every message exactly once, in arrival order
    for i, turn in enumerate(turns):  # each question is followed by its own answer before the next question
        expected = dict(QUESTIONS)[turn[0]]
        assert any(expected in text for text in turn[1:]), turn
        assert [r["text"] for r in answers[i]] == turn[1:]  # and the user was told what was stored


def test_a_replica_killed_mid_turn_delays_its_user_by_seconds(cluster: Cluster) -> None:
    """A replica dies (SIGKILL) while it holds a user's turn: the gateway sends the message to the other
    replica, which takes over as soon as the dead replica's lease lapses; the user's answer comes within
    10 s of the kill, and the conversation goes on where it was."""
    session, sender = new_conversation()
    home = Replicas(cluster.rasa_urls).order(sender)[0]
    victim = cluster.rasa[cluster.rasa_urls.index(home)]
    keys = conversation_keys(sender)
    client = cluster.client()
    http = httpx.Client(timeout=60)

    def say(message: str) -> List[Dict[str, Any]]:
        response = http.post(f"{cluster.gateway_url}/api/chat", json={"message": message}, headers={identity.HEADER: session})
        assert response.status_code == 200, response.text
        return response.json()["messages"]

    assert "Guangzhou" in "".join(m["text"] for m in say("what is the city partner program?"))
    result: Dict[str, Any] = {}

    def ask() -> None:
        result["messages"] = say("what are the benefits?")
        result["at"] = time.monotonic()

    cluster.actions.pause()  # the turn now waits inside the replica for its custom action
    try:
        asking = threading.Thread(target=ask)
        asking.start()
        wait_until(lambda: client.exists(keys.lock_queue), 30, "the turn to start on its replica")
        time.sleep(0.5)  # well inside the turn: the replica holds the lock and waits for the action
        victim.kill()
        killed_at = time.monotonic()
        assert client.zcard(keys.lock_queue) >= 1, "the kill did not land mid-turn"
    finally:
        cluster.actions.resume()
    asking.join(60)
    waited = result["at"] - killed_at
    print(f"\nkill -> answer: {waited:.2f} s (lease {cluster.env.get('LOCK_LEASE_SECONDS', '4')} s)")
    assert "Canton Fair" in "".join(m["text"] for m in result["messages"])
    assert waited < 10, f"the user waited {waited:.1f} s after the replica died"

    # The conversation goes on (on the surviving replica), with the question stored once.
    assert "城市梦想家" in "".join(m["text"] for m in say("城市合伙人有哪些类别？"))
    victim.start()
    events = httpx.get(f"{cluster.rasa_urls[0]}/conversations/{sender}/tracker", params={"token": TOKEN},
                       timeout=10).json()["events"]
    shown = [item.text for item in transcript(events, "en") if item.sender == "user"]
    assert shown == ["what is the city partner program?", "what are the benefits?", "城市合伙人有哪些类别？"], shown


def test_a_turn_whose_action_server_is_down_is_refused_whole_then_answered_once(cluster: Cluster) -> None:
    """The action server is down when a user asks to be screened: Rasa would utter the introduction and go on
    without the form's question (a half turn the tracker kept). The turn is refused whole — the polite reply,
    nothing stored — and once the action server is back the same message gets the introduction and the first
    question, stored once."""
    session, sender = new_conversation()
    users = Users(cluster)
    cluster.actions.stop()
    try:
        refused = users.http.post(users.url, json={"message": "we'd like to join"}, headers={identity.HEADER: session})
        assert refused.status_code == 503, refused.text  # not the introduction alone
        assert refused.json()["message"]["en"] and refused.json()["message"]["zh"]
    finally:
        cluster.actions.start()
    replies = users.say(session, "we'd like to join")
    assert question_in(replies) is not None, replies
    events = httpx.get(f"{cluster.rasa_urls[0]}/conversations/{sender}/tracker", params={"token": TOKEN},
                       timeout=10).json()["events"]
    assert [e["text"] for e in events if e["event"] == "user"] == ["we'd like to join"]
