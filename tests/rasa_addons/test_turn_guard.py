"""Rasa's own FailSafeTrackerStore over a RedisTrackerStore, with and without our guard (Python 3.10).

A Redis that refuses connections stands for a stopped Redis; a live one is the test database.
"""

from __future__ import annotations

import asyncio
import os
import socket
from types import SimpleNamespace
from typing import Any, Awaitable, Callable, List, Optional

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.lock_store import RedisLockStore
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.processor import MessageProcessor
from rasa.core.tracker_store import FailSafeTrackerStore, RedisTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.shared.redis_conn import rasa_store_options
from rasa_addons import turn_guard
from rasa_addons.rest_channel import guarded
from rasa_addons.store_health import Monitor, inspect
from tests import redis_env

REDIS_DB = int(os.environ.get("TEST_REDIS_DB", "13"))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def failsafe(port: Optional[int] = None) -> FailSafeTrackerStore:
    """Rasa's own Redis tracker store on the test Redis, or on a port where nothing listens."""
    url = redis_env.url(REDIS_DB) if port is None else f"redis://127.0.0.1:{port}/{REDIS_DB}"
    redis_store = RedisTrackerStore(Domain.empty(), **rasa_store_options(url), key_prefix="gzcptest")
    return FailSafeTrackerStore(redis_store)


class Agent:
    def __init__(self, tracker_store: Any) -> None:
        self.tracker_store = tracker_store
        self.lock_store = None

    def is_ready(self) -> bool:
        return True


def test_without_the_guard_rasa_falls_back_silently_and_the_health_check_sees_it() -> None:
    store = failsafe(closed_port())
    agent = Agent(store)
    assert asyncio.run(store.retrieve("alice")) is None  # "a new conversation", silently
    asyncio.run(store.save(DialogueStateTracker("alice", [])))  # kept in memory only
    health = inspect(agent)
    assert health.tracker_store == "RedisTrackerStore" and health.tracker_store_reachable is False
    assert health.in_memory_fallback == 1 and not health.ready


def test_the_monitor_drops_the_fallback_once_redis_answers_again() -> None:
    store = failsafe()
    store.fallback_tracker_store.store["bob"] = "{}"  # what a failed save leaves behind
    agent = Agent(store)
    agent.lock_store = RedisLockStore(**rasa_store_options(redis_env.url(REDIS_DB)), key_prefix="gzcptest")
    monitor = Monitor()
    health = monitor.observe(agent, inspect(agent))
    assert health.tracker_store_reachable and health.in_memory_fallback == 0
    assert monitor.fallbacks_seen == 1 and monitor.last_fallback_at is not None
    assert monitor.report(health)["status"] == "ready"


def test_with_the_guard_a_failed_read_refuses_the_turn_and_nothing_goes_to_memory() -> None:
    store = failsafe(closed_port())
    assert turn_guard.install(Agent(store))
    before = turn_guard.stats.refused_turns
    with pytest.raises(turn_guard.TrackerStoreUnavailable):
        asyncio.run(store.retrieve("carol"))
    with pytest.raises(turn_guard.TrackerStoreUnavailable):
        asyncio.run(store.save(DialogueStateTracker("carol", [])))
    assert store._fallback_tracker_store is None
    assert turn_guard.stats.refused_turns == before + 2 and turn_guard.stats.last_error == "ConnectionError"


def test_a_guarded_turn_whose_save_failed_answers_nothing() -> None:
    store = failsafe(closed_port())
    turn_guard.install(Agent(store))
    collector = CollectingOutputChannel()

    async def handle(message: UserMessage) -> None:  # what Rasa does: reply, then save the tracker
        await message.output_channel.send_text_message(message.sender_id, "a reply the user must not see")
        tracker = DialogueStateTracker(message.sender_id, [])
        tracker.update(UserUttered(message.text))
        await store.save(tracker)

    assert asyncio.run(guarded(handle)(UserMessage("hello", collector, "dave"))) is None  # refused, and said so
    assert collector.messages == []


def test_a_guarded_turn_that_worked_keeps_its_replies() -> None:
    store = failsafe()
    turn_guard.install(Agent(store))
    collector = CollectingOutputChannel()
    sent: List[str] = []

    async def handle(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, "hi")
        await store.save(DialogueStateTracker(message.sender_id, []))
        sent.append(message.text)

    asyncio.run(guarded(handle)(UserMessage("hello", collector, "erin")))
    assert [m["text"] for m in collector.messages] == ["hi"] and sent == ["hello"]
    redis_env.client(REDIS_DB).delete("gzcptest:tracker:erin")



def _turn_with_a_failing_action(store: Any) -> Callable[[UserMessage], Awaitable[None]]:
    """What Rasa's processor does with a custom action whose server is down: log it, go on, save the turn."""
    action = RemoteAction("action_anything", EndpointConfig(f"http://127.0.0.1:{closed_port()}/webhook"))
    processor = SimpleNamespace(tracker_store=store)

    async def handle(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, "the introduction, without its question")
        tracker = DialogueStateTracker(message.sender_id, [])
        tracker.update(UserUttered(message.text))
        try:
            await action.run(message.output_channel, TemplatedNaturalLanguageGenerator({}), tracker, Domain.empty())
        except Exception:  # noqa: BLE001  (as rasa.core.processor._run_action)
            pass
        await MessageProcessor.save_tracker(processor, tracker)  # type: ignore[arg-type]

    return handle


def test_a_guarded_turn_whose_custom_action_failed_is_neither_answered_nor_saved() -> None:
    turn_guard.guard_actions()
    store = failsafe()
    turn_guard.install(Agent(store))
    collector = CollectingOutputChannel()
    before = turn_guard.stats.refused_on_actions
    assert asyncio.run(guarded(_turn_with_a_failing_action(store))(UserMessage("hello", collector, "frank"))) is None
    assert collector.messages == [] and turn_guard.stats.refused_on_actions == before + 1
    assert asyncio.run(store.retrieve("frank")) is None  # nothing of the half turn was kept


def test_outside_a_guarded_turn_a_failed_action_changes_nothing() -> None:
    """Rasa's HTTP API and `rasa test` keep Rasa's own behaviour: the turn is saved without the action's events."""
    turn_guard.guard_actions()
    store = failsafe()
    turn_guard.install(Agent(store))
    asyncio.run(_turn_with_a_failing_action(store)(UserMessage("hello", CollectingOutputChannel(), "grace")))
    tracker = asyncio.run(store.retrieve("grace"))
    assert tracker is not None and [e.text for e in tracker.events if isinstance(e, UserUttered)] == ["hello"]
    redis_env.client(REDIS_DB).delete("gzcptest:tracker:grace")
