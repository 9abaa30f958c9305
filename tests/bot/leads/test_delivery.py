"""The delivery worker survives any single bad job: it is retried (transient) or dead-lettered with the reason
(permanent), and the next job goes on. Real Redis (the outbox tests' database), a fake intake (httpx.MockTransport).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Callable, Dict, Union

import httpx
import pytest
from redis.client import NEVER_DECODE

from bot.leads import delivery as delivery_module
from bot.leads.delivery import MAX_WORKER_ERRORS, Delivery
from bot.shared.outbox import Outbox
from tests.bot.leads.test_outbox import FakeIntake, body, make_due, wait_for

Handler = Callable[[httpx.Request], httpx.Response]


def poison(outbox: Outbox, job_id: str, raw: Union[str, bytes], conversation: str = "c-bad") -> None:
    """Put a job into the outbox as some other writer (or a person at redis-cli) might have."""
    outbox.redis.hset(outbox.key("jobs"), job_id, raw)
    outbox.redis.zadd(outbox.key("due"), {job_id: 0})
    outbox.redis.sadd(outbox.key("conv", conversation), job_id)


def job_json(**fields: object) -> str:
    base: Dict[str, object] = {"id": "x", "kind": "lead", "conversation_id": "c-bad", "body": body("c-bad"),
                               "created_at": time.time(), "attempts": 0, "last_error": "", "next_attempt_at": 0}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not DROP})


DROP = object()


def with_intake(delivery: Delivery, handler: Handler) -> None:
    delivery.http = httpx.Client(transport=httpx.MockTransport(handler))


def dead_reasons(outbox: Outbox) -> Dict[str, str]:
    return {job.id: job.last_error for job in outbox.dead()}


# --- answers the worker did not expect -----------------------------------------------------------------------


def test_a_2xx_answer_that_is_not_json_is_retried_and_the_next_job_goes_on(outbox: Outbox, delivery: Delivery,
                                                                          intake: FakeIntake) -> None:
    first = outbox.put("lead", "c1", body("c1"))
    second = outbox.put("lead", "c2", body("c2"))
    proxy_in_front = {"on": True}

    def handler(request: httpx.Request) -> httpx.Response:
        if proxy_in_front["on"] and request.headers.get("Idempotency-Key") == first.id:
            return httpx.Response(201, text="<html>queued</html>", headers={"content-type": "text/html"})
        return intake.handler(request)

    with_intake(delivery, handler)
    assert delivery.deliver_due() == 2
    assert list(intake.stored) == [second.id]  # the next job was not held up
    [waiting] = outbox.pending()
    assert waiting.id == first.id and waiting.attempts == 1 and "not JSON" in waiting.last_error
    assert outbox.dead() == []  # not proof the lead was stored, so it is tried again (same Idempotency-Key)
    proxy_in_front["on"] = False
    make_due(outbox)
    delivery.deliver_due()
    assert sorted(intake.stored) == sorted([first.id, second.id]) and outbox.stats()["pending"] == 0


@pytest.mark.parametrize("answer", [
    httpx.Response(201, json=["not", "an", "object"]),
    httpx.Response(200, json={"no": "id"}),
    httpx.Response(201, content=b"\xff\xfe"),
])
def test_a_2xx_answer_without_a_lead_id_is_retried(outbox: Outbox, delivery: Delivery, answer: httpx.Response) -> None:
    job = outbox.put("lead", "c1", body("c1"))
    with_intake(delivery, lambda request: answer)
    delivery.deliver_due()
    assert [j.id for j in outbox.pending()] == [job.id] and outbox.pending()[0].attempts == 1


def test_an_erasure_answered_with_something_that_is_not_json_is_retried(outbox: Outbox, delivery: Delivery) -> None:
    erase = outbox.erase("c1")
    with_intake(delivery, lambda request: httpx.Response(200, text="OK"))
    delivery.deliver_due()
    [waiting] = outbox.pending()
    assert waiting.id == erase.id and waiting.attempts == 1 and "not JSON" in waiting.last_error


# --- jobs the worker cannot read ---------------------------------------------------------------------------------


def test_a_job_from_a_newer_writer_is_delivered_and_its_new_field_survives_a_retry(
        outbox: Outbox, delivery: Delivery, intake: FakeIntake) -> None:
    poison(outbox, "lead-newer", job_json(id="lead-newer", priority="high", trace={"hop": 2}))
    intake.up = False
    delivery.deliver_due()
    stored = json.loads(outbox.redis.hget(outbox.key("jobs"), "lead-newer"))
    assert stored["priority"] == "high" and stored["trace"] == {"hop": 2} and stored["attempts"] == 1
    intake.up = True
    make_due(outbox)
    delivery.deliver_due()
    assert list(intake.stored) == ["lead-newer"] and intake.stored["lead-newer"] == body("c-bad")


@pytest.mark.parametrize("raw, reason", [
    ("this is not json {", "not JSON"),
    (b"\xff\xfe\x00binary", "not JSON"),
    ('["a", "list"]', "not a JSON object"),
    (job_json(conversation_id=DROP), "missing field 'conversation_id'"),
    (job_json(kind=DROP), "missing field 'kind'"),
    (job_json(created_at=DROP), "missing field 'created_at'"),
    (job_json(body=DROP), "a lead job without a body"),
    (job_json(attempts="three"), "field 'attempts' is not a whole number"),
    (job_json(body=["not", "an", "object"]), "field 'body' is not an object"),
    (job_json(kind="survey"), "unknown kind"),
])
def test_a_job_that_cannot_be_read_is_dead_lettered_with_the_reason_and_the_next_goes_on(
        outbox: Outbox, delivery: Delivery, intake: FakeIntake, raw: Union[str, bytes], reason: str) -> None:
    poison(outbox, "bad-1", raw)
    good = outbox.put("lead", "c1", body("c1"))
    make_due(outbox)
    assert delivery.deliver_due() == 2
    assert list(intake.stored) == [good.id]
    assert reason in dead_reasons(outbox)["bad-1"]
    assert outbox.stats() == {"pending": 0, "retrying": 0, "dead": 1, "oldest_pending_seconds": 0.0}
    # Kept as it came, so nothing is lost: revive hands it back as it was (a newer worker may read it).
    assert outbox.revive("bad-1")
    original = outbox.redis.execute_command("HGET", outbox.key("jobs"), "bad-1", **{NEVER_DECODE: True})
    assert original == (raw if isinstance(raw, bytes) else raw.encode())


def test_a_dead_lettered_unreadable_job_holds_no_more_than_it_came_with_in_its_reason(
        outbox: Outbox, delivery: Delivery) -> None:
    poison(outbox, "bad-1", job_json(attempts="li.hua@example.com"))
    delivery.deliver_due()
    assert "example.com" not in dead_reasons(outbox)["bad-1"]  # the reason names the field, never its value


def test_an_unreadable_job_can_still_be_erased_with_its_conversation(outbox: Outbox, delivery: Delivery) -> None:
    poison(outbox, "bad-1", "not json", conversation="c9")
    poison(outbox, "bad-2", "[1, 2]", conversation="c9")
    outbox.erase("c9")  # the erasure script must not choke on them
    assert {j.id for j in outbox.pending()} == {j.id for j in outbox.pending() if j.kind == "erase"}
    poison(outbox, "bad-3", "still not json", conversation="c8")
    delivery.deliver_due()  # dead-lettered now ...
    outbox.erase("c8")  # ... and erased from the dead-letter set too
    assert "bad-3" not in dead_reasons(outbox)


# --- the worker's own failures -------------------------------------------------------------------------------


def test_an_exception_while_handling_one_job_is_retried_then_dead_lettered(outbox: Outbox, delivery: Delivery,
                                                                          intake: FakeIntake) -> None:
    cursed = outbox.put("lead", "c1", body("c1"))

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("Idempotency-Key") == cursed.id:
            raise RuntimeError("bug while handling li.hua@example.com")  # not an httpx error: a bug
        return intake.handler(request)

    with_intake(delivery, handler)
    for attempt in range(1, MAX_WORKER_ERRORS):
        other = outbox.put("lead", f"c-ok-{attempt}", body(f"c-ok-{attempt}"))
        make_due(outbox)
        delivery.deliver_due()
        assert other.id in intake.stored  # the other jobs go on
        [waiting] = outbox.pending()
        assert waiting.worker_errors == attempt and waiting.last_error.startswith("worker error: RuntimeError")
        assert "example.com" not in waiting.last_error
    make_due(outbox)
    delivery.deliver_due()
    assert outbox.pending() == [] and "RuntimeError" in dead_reasons(outbox)[cursed.id]


def test_the_worker_loop_survives_every_kind_of_bad_job(outbox: Outbox, delivery: Delivery, intake: FakeIntake,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    poison(outbox, "bad-json", "{nope")
    poison(outbox, "bad-field", job_json(id="bad-field", created_at=DROP))
    poison(outbox, "newer", job_json(id="newer", shiny_new_field=1))
    broken_once = {"left": 1}
    claim = outbox.claim

    def flaky_claim(*args: object, **kwargs: object) -> object:
        if broken_once["left"]:
            broken_once["left"] -= 1
            raise TypeError("a bug outside any job")
        return claim(*args, **kwargs)

    monkeypatch.setattr(outbox, "claim", flaky_claim)
    monkeypatch.setattr(delivery_module, "LOOP_ERROR_PAUSE_SECONDS", 0.05)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("Idempotency-Key") == "newer":
            return httpx.Response(201, text="not json")  # stays queued: retried later
        return intake.handler(request)

    with_intake(delivery, handler)
    stop = threading.Event()
    thread = threading.Thread(target=delivery.run, args=(stop,), daemon=True)
    thread.start()
    good = outbox.put("lead", "c1", body("c1"))
    wait_for(lambda: good.id in intake.stored)
    assert thread.is_alive()
    assert set(dead_reasons(outbox)) == {"bad-json", "bad-field"}
    assert [j.id for j in outbox.pending()] == ["newer"]
    stop.set()
    outbox.redis.lpush(outbox.key("wake"), "1")
    thread.join(5)
    assert not thread.is_alive()



def test_status_lists_unreadable_jobs_with_their_reason(outbox: Outbox, delivery: Delivery,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    poison(outbox, "bad-waiting", "{nope")
    outbox.redis.hset(outbox.key("dead"), "bad-dead", b"\xff")
    assert delivery_module._status(outbox) == 0
    printed = capsys.readouterr().out
    assert "bad-waiting" in printed and "bad-dead" in printed and "unreadable job: not JSON" in printed
    assert not outbox.revive("bad-dead")  # not a job and not a record of one: nothing to queue
