"""The Redis outbox and the delivery worker: nothing lost, nothing twice, refusals kept, erasure honoured.

Real Redis (a test database of its own); the intake is faked with httpx.MockTransport here — the
end-to-end test in tests/integration runs the real one.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from bot.leads.delivery import Delivery, backoff
from bot.shared.funnel import Funnel
from bot.shared.outbox import Outbox
from bot.shared.redis_conn import conversation_keys
from tests.bot.leads.fakes import FakeIntake

__all__ = ["FakeIntake", "body", "make_due", "wait_for"]  # tests/bot/test_metrics.py uses them too


def body(conversation: str = "c1") -> dict:
    return {"kind": "lead", "conversation_id": conversation, "profile": {"name": "Acme"}}


def make_due(outbox: Outbox) -> None:
    for job_id in outbox.redis.zrange(outbox.key("due"), 0, -1):
        outbox.redis.zadd(outbox.key("due"), {job_id: 0})


def test_a_queued_lead_is_delivered_once_with_its_key(outbox: Outbox, delivery: Delivery, intake: FakeIntake) -> None:
    job = outbox.put("lead", "c1", body())
    outbox.put("lead", "c1", body(), job_id=job.id)  # the same job handed in twice is queued once
    assert delivery.deliver_due() == 1
    assert list(intake.stored) == [job.id]
    assert outbox.stats()["pending"] == 0 and delivery.deliver_due() == 0


def test_leads_wait_while_the_intake_is_down_and_arrive_once_after(outbox: Outbox, delivery: Delivery,
                                                                   intake: FakeIntake) -> None:
    jobs = [outbox.put("lead", f"c{i}", body(f"c{i}")) for i in range(5)]
    intake.up = False
    delivery.deliver_due()
    assert outbox.stats()["pending"] == 5 and outbox.stats()["retrying"] == 5
    assert all(j.attempts == 1 and "unreachable" in j.last_error for j in outbox.pending())
    intake.up = True
    make_due(outbox)
    delivery.deliver_due()
    assert sorted(intake.stored) == sorted(j.id for j in jobs)
    assert outbox.stats()["pending"] == 0


def test_a_retry_after_a_lost_response_is_not_stored_twice(outbox: Outbox, delivery: Delivery, intake: FakeIntake) -> None:
    job = outbox.put("lead", "c1", body())
    delivery.deliver_due()
    outbox.put("lead", "c1", body(), job_id=job.id)  # as if the worker had died before marking it done
    make_due(outbox)
    delivery.deliver_due()
    assert list(intake.stored) == [job.id] and intake.calls.count("POST") == 2


def test_a_claimed_job_is_not_handed_to_a_second_worker_until_its_lease_ends(outbox: Outbox) -> None:
    outbox.put("lead", "c1", body())
    assert len(outbox.claim(lease_seconds=60)) == 1
    assert outbox.claim() == []
    make_due(outbox)  # the lease ran out: the first worker died
    assert len(outbox.claim()) == 1


def test_a_refused_lead_is_kept_and_shown_not_dropped(outbox: Outbox, delivery: Delivery, intake: FakeIntake) -> None:
    intake.refuse = True
    job = outbox.put("lead", "c1", body())
    delivery.deliver_due()
    dead = outbox.dead()
    assert [d.id for d in dead] == [job.id] and dead[0].body == body()
    assert "contact.email" in dead[0].last_error and "secret@example.com" not in dead[0].last_error
    assert outbox.stats() == {"pending": 0, "retrying": 0, "dead": 1, "oldest_pending_seconds": 0.0}
    intake.refuse = False
    assert outbox.revive(job.id)
    delivery.deliver_due()
    assert list(intake.stored) == [job.id] and outbox.dead() == []


def test_erasure_drops_queued_leads_deletes_stored_ones_and_the_conversation(outbox: Outbox, delivery: Delivery,
                                                                             intake: FakeIntake) -> None:
    stored = outbox.put("lead", "c1", body())
    delivery.deliver_due()
    queued = outbox.put("handoff", "c1", body())
    other = outbox.put("lead", "c2", body("c2"))
    keys = conversation_keys("c1", delivery.tracker_prefix)
    tracker_key = keys.tracker
    outbox.redis.set(tracker_key, "{}")
    outbox.redis.zadd(keys.turns, {"m1": 1})
    outbox.redis.set(keys.language, "zh")
    outbox.redis.hset(keys.buttons, "ref", '/inform{"choice":"x"}')
    outbox.redis.set(keys.choices, '{"letters": false, "payloads": ["/inform{\\"choice\\":\\"x\\"}"]}')  # WeChat's list
    funnel = Funnel(outbox.redis, delivery.tracker_prefix)
    funnel.record_unanswered("I am Li Hua, what is the fee?", language="en", reason="unknown_topic", conversation_id="c1")
    funnel.record_unanswered("what is the fee?", language="en", reason="unknown_topic", conversation_id="c2")
    erase = outbox.erase("c1")
    assert queued.id not in {j.id for j in outbox.pending()}
    delivery.deliver_due()
    assert outbox.wait_result(erase.id, 1) == {"deleted": 1}
    assert stored.id not in intake.stored and other.id in intake.stored
    assert not outbox.redis.exists(tracker_key, keys.turns, keys.language, keys.buttons, keys.choices)  # channels' state
    assert [q["text"] for q in funnel.unanswered()] == ["what is the fee?"]  # its unanswered questions too


def test_the_conversation_is_erased_only_after_rasa_released_it(outbox: Outbox, delivery: Delivery) -> None:
    keys = conversation_keys("c1", delivery.tracker_prefix)
    outbox.redis.zadd(keys.lock_queue, {"ticket": 1})
    outbox.redis.set(keys.tracker, "{}")
    outbox.erase("c1")
    releaser = threading.Timer(0.5, lambda: outbox.redis.delete(keys.lock_queue))
    releaser.start()
    delivery.deliver_due()
    releaser.join()
    assert not outbox.redis.exists(keys.tracker)


def test_a_lead_erased_while_queued_is_never_sent(outbox: Outbox, delivery: Delivery, intake: FakeIntake) -> None:
    outbox.put("lead", "c1", body())
    intake.up = False
    delivery.deliver_due()
    outbox.erase("c1")
    intake.up = True
    make_due(outbox)
    delivery.deliver_due()
    assert intake.stored == {} and outbox.stats()["pending"] == 0


def test_backoff_grows_and_is_capped() -> None:
    assert 0.5 <= backoff(0) <= 1 and 4 <= backoff(3) <= 8 and backoff(30) <= 300


def test_the_worker_loop_delivers_as_soon_as_a_job_arrives(outbox: Outbox, delivery: Delivery, intake: FakeIntake) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=delivery.run, args=(stop,), daemon=True)
    thread.start()
    job = outbox.put("lead", "c1", body())
    wait_for(lambda: job.id in intake.stored)
    stop.set()
    outbox.redis.lpush(outbox.key("wake"), "1")
    thread.join(5)
    assert not thread.is_alive()


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
