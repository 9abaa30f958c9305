"""A message sent again with the same turn id is answered from the tracker, not handled twice
(Python 3.10, real Redis; the agent is a stand-in that counts how often Rasa would handle the message)."""

from __future__ import annotations

import asyncio
import os
from typing import Any, List

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUtteranceReverted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_addons.lock_store import LeasedRedisLockStore
from rasa_addons.rest_channel import guarded
from rasa_addons.tracker_store import FencedRedisTrackerStore
from tests import redis_env

REDIS_DB = int(os.environ.get("TEST_REDIS_DB", "13"))
PREFIX = "gzcpturnstest"
TURN = "turn-0123456789abcdef"


@pytest.fixture(autouse=True)
def clean() -> Any:
    client = redis_env.client(REDIS_DB)
    yield
    keys = list(client.scan_iter(f"{PREFIX}:*"))
    if keys:
        client.delete(*keys)


class Agent:
    """What the guarded channel needs of Rasa's agent; handle_message stands for a whole turn."""

    def __init__(self) -> None:
        self.store = FencedRedisTrackerStore(Domain.empty(), host=redis_env.url(REDIS_DB), key_prefix=PREFIX)
        self.tracker_store = FailSafeTrackerStore(self.store)
        self.lock_store = LeasedRedisLockStore(host=redis_env.url(REDIS_DB), key_prefix=PREFIX)
        self.handled: List[str] = []

    async def handle_message(self, message: UserMessage) -> None:
        async with self.lock_store.lock(message.sender_id):  # re-entered: same ticket as the channel's
            self.handled.append(message.text)
            tracker = await self.store.retrieve(message.sender_id) or DialogueStateTracker(message.sender_id, [])
            tracker.update(UserUttered(message.text, message_id=message.message_id))
            tracker.update(BotUttered(f"answer to {message.text}", {"buttons": [{"title": "More", "payload": "/more"}]}))
            tracker.update(ActionExecuted("action_listen"))
            await self.tracker_store.save(tracker)
            await message.output_channel.send_text_with_buttons(
                message.sender_id, f"answer to {message.text}", [{"title": "More", "payload": "/more"}]
            )


def send(agent: Agent, text: str, turn_id: str = TURN) -> List[dict]:
    collector = CollectingOutputChannel()
    handle = guarded(agent.handle_message, lambda: agent)
    asyncio.run(handle(UserMessage(text, collector, "web-s", metadata={"turn_id": turn_id})))
    return collector.messages


def test_a_stored_turn_sent_again_is_answered_from_the_tracker() -> None:
    agent = Agent()
    first = send(agent, "what are the benefits?")
    again = send(agent, "what are the benefits?")
    assert agent.handled == ["what are the benefits?"]  # handled once
    assert again == first and first[0]["text"] == "answer to what are the benefits?"
    assert first[0]["buttons"] == [{"title": "More", "payload": "/more"}]
    tracker = asyncio.run(agent.store.retrieve("web-s"))
    assert [e.message_id for e in tracker.events if isinstance(e, UserUttered)] == [TURN]


def test_another_turn_is_handled_and_an_undone_turn_is_handled_again() -> None:
    agent = Agent()
    send(agent, "hello")
    send(agent, "next question", turn_id="turn-fedcba9876543210")
    assert agent.handled == ["hello", "next question"]
    tracker = asyncio.run(agent.store.retrieve("web-s"))
    tracker.update(UserUtteranceReverted())  # the gateway undid the last turn
    asyncio.run(agent.store.save(tracker))
    send(agent, "next question", turn_id="turn-fedcba9876543210")
    assert agent.handled == ["hello", "next question", "next question"]


def test_without_a_turn_id_every_message_is_handled() -> None:
    agent = Agent()
    for _ in range(2):
        collector = CollectingOutputChannel()
        asyncio.run(guarded(agent.handle_message, lambda: agent)(UserMessage("hi", collector, "web-s")))
    assert agent.handled == ["hi", "hi"]
