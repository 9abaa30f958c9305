"""The event-list tracker store: a turn reads a bounded window and appends only its own events, while the
full history stays for transcripts and erasure (Python 3.10, real Redis, the project's domain)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, List

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.shared.redis_conn import conversation_keys
from rasa_addons.tracker_store import WINDOW, FencedRedisTrackerStore, LockLost
from tests import redis_env

REDIS_DB = int(os.environ.get("TEST_REDIS_DB", "13"))
PREFIX = "gzcpstoretest"
DOMAIN = Domain.load(str(Path(__file__).resolve().parents[2] / "domain.yml"))


@pytest.fixture
def store() -> Any:
    client = redis_env.client(REDIS_DB)
    yield FencedRedisTrackerStore(DOMAIN, host=redis_env.url(REDIS_DB), key_prefix=PREFIX)
    keys = list(client.scan_iter(f"{PREFIX}:*"))
    if keys:
        client.delete(*keys)


def turn(tracker: DialogueStateTracker, n: int) -> None:
    tracker.update(UserUttered(f"question {n}", {"name": "ask_program"}, message_id=f"m{n}"))
    tracker.update(ActionExecuted("action_answer_topic"))
    tracker.update(BotUttered(f"answer {n}"))
    tracker.update(ActionExecuted("action_listen"))


def session_start(tracker: DialogueStateTracker) -> None:
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))


async def talk(store: FencedRedisTrackerStore, sender: str, turns: int, start: int = 0) -> DialogueStateTracker:
    tracker = await store.retrieve(sender)
    if tracker is None:
        tracker = store.init_tracker(sender)
        session_start(tracker)
    for n in range(start, start + turns):
        turn(tracker, n)
        await store.save(tracker)
        tracker = await store.retrieve(sender)
    return tracker


def stored(store: FencedRedisTrackerStore, sender: str) -> List[dict]:
    return [json.loads(item) for item in store.red.lrange(conversation_keys(sender, PREFIX).tracker, 0, -1)]


async def test_a_turn_appends_only_its_own_events(store: FencedRedisTrackerStore) -> None:
    tracker = await talk(store, "ann", 3)
    before = len(stored(store, "ann"))
    turn(tracker, 3)
    await store.save(tracker)
    after = stored(store, "ann")
    assert len(after) == before + 4 and after[-4]["text"] == "question 3" and after[-2]["text"] == "answer 3"


async def test_a_long_session_reads_a_bounded_window_with_its_slots_and_form(store: FencedRedisTrackerStore) -> None:
    tracker = await talk(store, "bob", 5)
    tracker.update(SlotSet("language", "zh"))
    tracker.update(SlotSet("org_type", "enterprise"))
    tracker.update(ActiveLoop("screening_form"))
    await store.save(tracker)
    tracker = await talk(store, "bob", 200, start=5)
    assert len(tracker.events) <= WINDOW + 10  # bounded, however long the session
    assert tracker.get_slot("language") == "zh" and tracker.get_slot("org_type") == "enterprise"
    assert tracker.active_loop_name == "screening_form"
    assert isinstance([e for e in tracker.events if not isinstance(e, (SlotSet, ActiveLoop))][0], UserUttered)
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)][-1] == "question 204"
    full = await store.retrieve_full_tracker("bob")
    assert len([e for e in full.events if isinstance(e, UserUttered)]) == 205  # the whole history is kept
    assert len(stored(store, "bob")) == len(full.events)


async def test_a_revert_in_a_long_session_undoes_the_last_turn_only(store: FencedRedisTrackerStore) -> None:
    tracker = await talk(store, "cai", 100)
    tracker.update(SlotSet("org_name", "Acme"))
    await store.save(tracker)
    tracker = await store.retrieve("cai")
    tracker.update(UserUttered("I am Zed", message_id="mz"))
    tracker.update(SlotSet("org_name", "Zed"))
    tracker.update(UserUtteranceReverted())
    await store.save(tracker)
    again = await store.retrieve("cai")
    assert again.get_slot("org_name") == "Acme"
    assert [e.text for e in again.applied_events() if isinstance(e, UserUttered)][-1] == "question 99"


async def test_a_new_session_is_read_alone_and_the_old_ones_stay(store: FencedRedisTrackerStore) -> None:
    tracker = await talk(store, "dan", 4)
    session_start(tracker)
    turn(tracker, 100)
    await store.save(tracker)
    current = await store.retrieve("dan")
    assert [e.text for e in current.events if isinstance(e, UserUttered)] == ["question 100"]
    full = await store.retrieve_full_tracker("dan")
    assert [e.text for e in full.events if isinstance(e, UserUttered)][0] == "question 0"


async def test_a_save_onto_a_history_that_changed_meanwhile_is_refused(store: FencedRedisTrackerStore) -> None:
    await talk(store, "eve", 2)
    mine, theirs = await store.retrieve("eve"), await store.retrieve("eve")
    turn(theirs, 50)
    await store.save(theirs)
    turn(mine, 51)
    with pytest.raises(LockLost):
        await store.save(mine)
    texts = [e["text"] for e in stored(store, "eve") if e.get("event") == "user"]
    assert texts == ["question 0", "question 1", "question 50"]  # nothing interleaved, nothing lost


async def test_a_conversation_of_the_old_format_is_converted_on_first_read(store: FencedRedisTrackerStore) -> None:
    old = store.init_tracker("fay")
    session_start(old)
    turn(old, 0)
    old.update(SlotSet("language", "zh"))
    key = conversation_keys("fay", PREFIX).tracker
    store.red.set(key, store.serialise_tracker(old), px=600_000)  # as Rasa's RedisTrackerStore wrote it
    tracker = await store.retrieve("fay")
    assert tracker.get_slot("language") == "zh" and store.red.type(key) == "list" and store.red.pttl(key) > 0
    turn(tracker, 1)
    await store.save(tracker)
    assert [e["text"] for e in stored(store, "fay") if e.get("event") == "user"] == ["question 0", "question 1"]


async def test_a_tracker_not_read_through_the_store_replaces_the_history(store: FencedRedisTrackerStore) -> None:
    await talk(store, "gus", 3)
    fresh = store.init_tracker("gus")
    session_start(fresh)
    turn(fresh, 9)
    await store.save(fresh)  # e.g. Rasa's API replacing a conversation's events
    assert [e["text"] for e in stored(store, "gus") if e.get("event") == "user"] == ["question 9"]


async def test_a_new_conversation_saved_empty_then_grows(store: FencedRedisTrackerStore) -> None:
    await store.save(store.init_tracker("hal"))  # what Rasa's create_tracker does before the first turn
    tracker = await store.retrieve("hal") or store.init_tracker("hal")
    session_start(tracker)
    turn(tracker, 0)
    await store.save(tracker)
    assert [e["text"] for e in stored(store, "hal") if e.get("event") == "user"] == ["question 0"]
