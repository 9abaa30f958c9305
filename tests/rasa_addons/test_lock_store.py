"""The conversation lock across replicas (Python 3.10, real Redis): why Rasa's own store loses turns,
and that ours serves one turn at a time, in arrival order, lets go of a dead holder, and fences saves.

Two store objects with their own Redis connections stand for two Rasa replicas; threads with their own
event loops make them run truly at once.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from typing import Any, List

import pytest
from rasa.core.lock_store import LockError, RedisLockStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.shared.redis_conn import conversation_keys, rasa_store_options
from rasa_addons import lock_store
from rasa_addons.lock_store import LeasedRedisLockStore
from rasa_addons.tracker_store import FencedRedisTrackerStore, LockLost
from tests import redis_env

REDIS_DB = int(os.environ.get("TEST_REDIS_DB", "13"))
PREFIX = "gzcplocktest"


@pytest.fixture(autouse=True)
def clean() -> Any:
    client = redis_env.client(REDIS_DB)
    yield
    keys = list(client.scan_iter(f"{PREFIX}:*"))
    if keys:
        client.delete(*keys)


def replica(lease: float = 4.0) -> LeasedRedisLockStore:
    return LeasedRedisLockStore(host=redis_env.url(REDIS_DB), key_prefix=PREFIX, lease_seconds=lease)


def tracker_store() -> FencedRedisTrackerStore:
    return FencedRedisTrackerStore(Domain.empty(), host=redis_env.url(REDIS_DB), key_prefix=PREFIX)


def test_rasas_own_redis_lock_store_gives_two_replicas_the_same_ticket() -> None:
    """The root cause of the lost turns: each step reads, changes and writes back the whole queue."""
    a = RedisLockStore(**rasa_store_options(redis_env.url(REDIS_DB)), key_prefix=PREFIX)
    b = RedisLockStore(**rasa_store_options(redis_env.url(REDIS_DB)), key_prefix=PREFIX)
    first, second = a.get_or_create_lock("c"), b.get_or_create_lock("c")  # both read the empty queue
    ticket_a, ticket_b = first.issue_ticket(60), second.issue_ticket(60)
    a.save_lock(first)
    b.save_lock(second)
    assert ticket_a == ticket_b  # both replicas now hold the lock at once
    assert not a.get_lock("c").is_locked(ticket_a) and not b.get_lock("c").is_locked(ticket_b)


def _hammer(store: LeasedRedisLockStore, conversation: str, rounds: int, log: List[str], name: str) -> None:
    counter = redis_env.client(REDIS_DB)

    async def go() -> None:
        for _ in range(rounds):
            async with store.lock(conversation):
                # read-modify-write with a pause in the middle: what a turn does with the tracker
                value = int(counter.get(f"{PREFIX}:counter") or 0)
                log.append(f"{name}-in")
                await asyncio.sleep(0.002)
                counter.set(f"{PREFIX}:counter", value + 1)
                log.append(f"{name}-out")

    asyncio.run(go())


def test_two_replicas_at_once_never_hold_a_conversation_together() -> None:
    log: List[str] = []
    stores = [replica(), replica(), replica()]
    threads = [threading.Thread(target=_hammer, args=(s, "c", 40, log, f"r{i}")) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert int(redis_env.client(REDIS_DB).get(f"{PREFIX}:counter")) == 120  # no update lost
    assert all(log[i].endswith("-in") and log[i + 1] == log[i].replace("-in", "-out") for i in range(0, len(log), 2))
    keys = conversation_keys("c", PREFIX)
    assert not redis_env.client(REDIS_DB).exists(keys.lock_queue, keys.lock_leases)  # no ticket left behind
    assert int(redis_env.client(REDIS_DB).get(keys.lock_seq)) == 120  # the arrival counter goes on rising


def test_turns_are_served_in_the_order_their_tickets_were_issued() -> None:
    a, b = replica(), replica()
    served: List[int] = []

    async def turn(store: LeasedRedisLockStore, i: int) -> None:
        async with store.lock("c"):
            served.append(i)
            await asyncio.sleep(0.01)

    async def go() -> None:
        tasks = []
        for i in range(12):
            tasks.append(asyncio.create_task(turn(a if i % 2 else b, i)))
            await asyncio.sleep(0.003)  # each task takes its ticket before the next one starts
        await asyncio.gather(*tasks)

    asyncio.run(go())
    assert served == list(range(12))


def test_a_dead_holders_ticket_lapses_after_one_lease() -> None:
    dead, alive = replica(lease=0.5), replica(lease=0.5)
    keys = list(dead.keys("c"))
    dead.issue_script(keys=keys, args=["dead-ticket", dead.lease_ms, 60000])  # taken, never renewed nor released

    async def go() -> float:
        start = time.monotonic()
        async with alive.lock("c"):
            return time.monotonic() - start

    waited = asyncio.run(go())
    assert waited >= 0.4  # it did wait for the dead holder's lease...
    assert not redis_env.client(REDIS_DB).exists(keys[0], keys[1])  # ...and the queue is clean afterwards


def test_a_live_holder_keeps_its_lease_for_a_long_turn() -> None:
    a, b = replica(lease=0.4), replica(lease=0.4)
    order: List[str] = []

    async def long_turn() -> None:
        async with a.lock("c"):
            order.append("long-in")
            await asyncio.sleep(1.5)  # several leases long: the heartbeat keeps it
            order.append("long-out")

    async def next_turn() -> None:
        await asyncio.sleep(0.1)
        async with b.lock("c"):
            order.append("next")

    async def go() -> None:
        await asyncio.gather(long_turn(), next_turn())

    asyncio.run(go())
    assert order == ["long-in", "long-out", "next"]


def test_the_lock_is_reentrant_in_one_task_and_released_on_error() -> None:
    store = replica()

    async def go() -> None:
        async with store.lock("c"):
            held = lock_store.held()
            async with store.lock("c"):  # Rasa's agent inside the guarded channel's lock
                assert lock_store.held() == held
        assert lock_store.held() is None
        with pytest.raises(RuntimeError):
            async with store.lock("c"):
                raise RuntimeError("the turn failed")

    asyncio.run(go())
    assert not redis_env.client(REDIS_DB).exists(*store.keys("c")[:2])


def test_without_redis_the_lock_fails_at_once_with_lock_error() -> None:
    store = LeasedRedisLockStore(host="127.0.0.1", port=1, db=0, key_prefix=PREFIX, socket_timeout=1)

    async def go() -> None:
        async with store.lock("c"):
            pass

    with pytest.raises(LockError):
        asyncio.run(go())


def _tracker(sender: str, text: str) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        sender, [ActionExecuted("action_listen"), UserUttered(text, message_id=uuid.uuid4().hex)]
    )


def test_a_save_after_the_lease_lapsed_is_refused_and_the_successors_turn_stands() -> None:
    slow, fast = replica(lease=0.3), replica(lease=0.3)
    trackers = tracker_store()

    async def frozen_turn() -> None:
        async with slow.lock("c"):
            slow.heartbeat.remove(lock_store.held().ticket)  # a process frozen: nothing renews its lease
            await asyncio.sleep(0.8)
            with pytest.raises(LockLost):
                await trackers.save(_tracker("c", "stale"))

    async def successor() -> None:
        await asyncio.sleep(0.05)
        async with fast.lock("c"):
            await trackers.save(_tracker("c", "fresh"))

    async def go() -> None:
        await asyncio.gather(frozen_turn(), successor())

    asyncio.run(go())
    saved = asyncio.run(trackers.retrieve("c"))
    assert saved.latest_message.text == "fresh"


def test_a_save_records_the_turn_so_a_second_send_can_find_it() -> None:
    trackers = tracker_store()
    tracker = _tracker("c", "hello")
    asyncio.run(trackers.save(tracker))
    assert trackers.turn_stored("c", tracker.latest_message.message_id)
    assert not trackers.turn_stored("c", "another-message")
    assert asyncio.run(trackers.retrieve("c")).latest_message.text == "hello"
