"""The event-list tracker store: a turn reads a bounded window and appends only its own events, while the
full history stays for transcripts and erasure; the tracker a turn reads gives the policies and the forms what
the full history gives (Python 3.10, real Redis, the project's domain)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, List

import pytest
import yaml
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    BotUttered,
    Event,
    LoopInterrupted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.shared.redis_conn import conversation_keys
from bot.shared.transcript import WHOLE_SESSION_ACTIONS
from rasa_addons.tracker_store import MEMORY_TURNS, FencedRedisTrackerStore, LockLost
from tests import redis_env

REDIS_DB = int(os.environ.get("TEST_REDIS_DB", "13"))
PREFIX = "gzcpstoretest"
DOMAIN = Domain.load(str(Path(__file__).resolve().parents[2] / "domain.yml"))
WINDOW = 16  # small, so that a few turns cross it
RULE_ONLY = {"rule_only_slots": [], "rule_only_loops": ["screening_form"]}  # what the trained RulePolicy hides


@pytest.fixture
def store() -> Any:
    client = redis_env.client(REDIS_DB)
    yield FencedRedisTrackerStore(DOMAIN, host=redis_env.url(REDIS_DB), key_prefix=PREFIX, window=WINDOW)
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
    assert len(tracker.events) <= 2 * WINDOW + 10  # bounded, however long the session
    assert tracker.get_slot("language") == "zh" and tracker.get_slot("org_type") == "enterprise"
    assert tracker.active_loop_name == "screening_form"
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)][-1] == "question 204"
    full = await store.retrieve_full_tracker("bob")
    assert len([e for e in full.events if isinstance(e, UserUttered)]) == 205  # the whole history is kept
    assert len(stored(store, "bob")) == len(full.events)


# A conversation as Rasa records it with this project's policies: every rule's turn is hidden from the
# memoization policy (hide_rule_turn), a form's turns included; a fallback's turn is not.
def rule(name: str) -> ActionExecuted:
    return ActionExecuted(name, policy="RulePolicy", hide_rule_turn=True)


def question(n: int) -> List[Event]:
    return [UserUttered(f"question {n}", {"name": "ask_program", "confidence": 0.9}, message_id=f"q{n}"),
            rule("action_answer_topic"), SlotSet("topic", f"topic{n % 3}"), BotUttered(f"answer {n}"),
            rule("action_listen")]


def join(n: int) -> List[Event]:
    return [UserUttered("we want to join", {"name": "apply", "confidence": 0.9}, message_id=f"j{n}"),
            rule("action_apply"), BotUttered("happy to help"), rule("screening_form"), ActiveLoop("screening_form"),
            SlotSet("requested_slot", "org_type"), BotUttered("which describes you?"), rule("action_listen")]


def answer(n: int, slot: str, value: str, next_slot: str) -> List[Event]:
    return [UserUttered(value, {"name": "inform", "confidence": 0.9}, message_id=f"a{n}"), rule("screening_form"),
            SlotSet(slot, value), SlotSet("requested_slot", next_slot), BotUttered(f"and {next_slot}?"),
            rule("action_listen")]


def mid_form_question(n: int, asked: str) -> List[Event]:
    return [UserUttered(f"what about {n}?", {"name": "ask_program", "confidence": 0.9}, message_id=f"m{n}"),
            ActionExecutionRejected("screening_form"), rule("action_answer_topic"), BotUttered(f"answer {n}"),
            LoopInterrupted(True), rule("screening_form"), LoopInterrupted(False),
            SlotSet("requested_slot", asked), BotUttered(f"so, {asked}?"), rule("action_listen")]


def form_done(n: int) -> List[Event]:
    return [UserUttered("yes", {"name": "affirm", "confidence": 0.9}, message_id=f"d{n}"), rule("screening_form"),
            SlotSet("confirmed", True), ActiveLoop(None), SlotSet("requested_slot", None),
            rule("action_screening_submit"), BotUttered("sent"), rule("action_listen")]


def unclear(n: int) -> List[Event]:
    return [UserUttered(f"hmm {n}", {"name": "nlu_fallback", "confidence": 0.2}, message_id=f"u{n}"),
            ActionExecuted("action_clarify", policy="RulePolicy"), BotUttered("sorry?"),
            ActionExecuted("action_listen", policy="RulePolicy")]


def a_long_conversation() -> List[List[Event]]:
    """Forms with questions asked mid-form, each shorter than the store's reach; a fallback's turn at the end."""
    turns: List[List[Event]] = [question(n) for n in range(4)] + [join(1), answer(1, "org_type", "enterprise", "org_name")]
    turns += [mid_form_question(n, "org_name") for n in range(10, 12)]
    turns += [answer(2, "org_name", "Acme", "country"), answer(3, "country", "Germany", "email"), form_done(1)]
    turns += [question(n) for n in range(20, 30)] + [join(2)]
    turns += [answer(10 + n, "org_name", f"Org {n}", "org_name") for n in range(4)]
    turns += [mid_form_question(n, "org_name") for n in range(40, 42)] + [form_done(2)]
    return turns + [question(n) for n in range(50, 60)] + [unclear(1), question(60)]


def what_policies_see(tracker: DialogueStateTracker) -> Any:
    return (
        tracker.past_states(DOMAIN, ignore_rule_only_turns=True, rule_only_data=RULE_ONLY)[-4:],  # memoization
        tracker.past_states(DOMAIN, rule_only_data=RULE_ONLY)[-2:],  # the rule policy's last turns
        what_actions_see(tracker),
    )


def what_actions_see(tracker: DialogueStateTracker) -> Any:
    return (
        tracker.current_slot_values(),
        tracker.active_loop_name,
        bool(tracker.active_loop and tracker.active_loop.is_interrupted),
        tracker.latest_message.text,
        tracker.latest_action_name,
    )


async def replay_turn_by_turn(store: FencedRedisTrackerStore, sender: str, turns: List[List[Event]],
                              same: Any) -> List[int]:
    """Each turn read from the store and, as the processor applies its events, compared by `same` with the
    full history at every prediction; returns how many events each turn read."""
    full = store.init_tracker(sender)
    session_start(full)
    await store.save(full)
    lengths = []
    for events in turns:
        read = await store.retrieve(sender)
        lengths.append(len(read.events))
        for event in events:
            read.update(event, DOMAIN)
            full.update(event, DOMAIN)
            if isinstance(event, (UserUttered, ActionExecuted)):
                assert same(read) == same(full), f"differs after {event}"
        await store.save(read)
    assert stored(store, sender) == [e.as_dict() for e in full.events]
    return lengths


async def test_the_tracker_a_turn_reads_gives_the_policies_what_the_full_history_gives(
        store: FencedRedisTrackerStore) -> None:
    lengths = await replay_turn_by_turn(store, "ivy", a_long_conversation(), what_policies_see)
    assert max(lengths) <= store.reach + 10 and lengths[-1] <= 2 * WINDOW + 10  # read a bounded part, saw the same


async def test_a_form_longer_than_the_reach_is_read_bounded_with_its_state(store: FencedRedisTrackerStore) -> None:
    turns = [question(0), join(1)] + [mid_form_question(n, "org_name") for n in range(40)]
    turns += [answer(1, "org_name", "Acme", "country"), form_done(1), question(1)]
    lengths = await replay_turn_by_turn(store, "kim", turns, lambda tracker: (
        what_actions_see(tracker),
        tracker.past_states(DOMAIN, rule_only_data=RULE_ONLY)[-2:],
        bool(tracker.past_states(DOMAIN, ignore_rule_only_turns=True, rule_only_data=RULE_ONLY)),  # never none
    ))
    assert max(lengths) <= store.reach + 10


def test_the_memoization_turns_kept_are_those_the_policy_reads() -> None:
    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "config.yml").read_text())
    histories = [p.get("max_history", 0) for p in config["policies"] if p["name"] == "MemoizationPolicy"]
    assert histories and max(histories) <= MEMORY_TURNS


async def test_a_conversation_stored_without_a_mark_is_read_whole_then_marked(store: FencedRedisTrackerStore) -> None:
    await talk(store, "joe", 20)
    keys = conversation_keys("joe", PREFIX)
    store.red.hdel(keys.session, "head", "mark", "state")  # as the previous version left it
    store.red.hset(keys.session, "snapshot", "{}")
    tracker = await store.retrieve("joe")
    assert len([e for e in tracker.events if isinstance(e, UserUttered)]) == 20
    turn(tracker, 20)
    await store.save(tracker)
    again = await store.retrieve("joe")
    assert len(again.events) <= 2 * WINDOW + 10 and isinstance(again.events[0], ActionExecuted)
    assert [e.text for e in again.events if isinstance(e, UserUttered)][-1] == "question 20"
    assert not store.red.hexists(keys.session, "snapshot")


async def test_a_revert_in_a_long_session_undoes_the_last_turn_only(store: FencedRedisTrackerStore) -> None:
    tracker = await talk(store, "cai", 100)
    for event in (UserUttered("I am Acme", message_id="ma"), SlotSet("org_name", "Acme"), ActionExecuted("action_listen")):
        tracker.update(event)
    await store.save(tracker)
    tracker = await store.retrieve("cai")
    tracker.update(UserUttered("I am Zed", message_id="mz"))
    tracker.update(SlotSet("org_name", "Zed"))
    tracker.update(UserUtteranceReverted())
    await store.save(tracker)
    again = await store.retrieve("cai")
    assert again.get_slot("org_name") == "Acme"
    assert [e.text for e in again.applied_events() if isinstance(e, UserUttered)][-1] == "I am Acme"
    full = await store.retrieve_full_tracker("cai")
    assert what_actions_see(again) == what_actions_see(full)


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


async def test_an_action_that_attaches_a_transcript_receives_the_whole_session(store: FencedRedisTrackerStore) -> None:
    tracker = await talk(store, "lea", 30)
    session_start(tracker)  # a new session: the transcript is of this one
    await store.save(tracker)
    tracker = await talk(store, "lea", 30, start=100)
    tracker.update(UserUttered("send it", message_id="send"))  # this turn's events, not saved yet
    copy = tracker.copy()  # Rasa runs each action on a copy of the turn's tracker
    copy.update(ActionExecuted("action_screening_submit"))

    def said(action: str) -> List[str]:
        events = RemoteAction(action, None)._action_call_format(copy, DOMAIN)["tracker"]["events"]
        return [e["text"] for e in events if e["event"] == "user"]

    assert said(sorted(WHOLE_SESSION_ACTIONS)[0]) == [f"question {n}" for n in range(100, 130)] + ["send it"]
    assert len(said("action_answer_topic")) < 2 * WINDOW  # every other action: the part a turn reads
