"""A message sent again after its answer was lost is answered from the tracker, not handled twice.

The gateway gives each user message a `turn_id` (REST metadata) and keeps it when it sends the message
again (a replica died mid-turn, a reply never came). The turn id becomes the user event's message id.
Under the conversation lock, a turn id whose turn is already stored (a marker written with the tracker,
see rasa_addons.tracker_store) is answered with the bot messages that followed it; a turn that was
undone (rewound) or produced nothing is handled again as a new message.
"""

from __future__ import annotations

import re
from typing import Any, List, Optional

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import BotUttered, UserUtteranceReverted, UserUttered

from rasa_addons.tracker_store import FencedRedisTrackerStore

TURN_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def turn_id_of(message: UserMessage) -> Optional[str]:
    metadata = message.metadata if isinstance(message.metadata, dict) else {}
    turn_id = metadata.get("turn_id")
    return turn_id if isinstance(turn_id, str) and TURN_ID.match(turn_id) else None


def fenced_store(tracker_store: Any) -> Optional[FencedRedisTrackerStore]:
    """Our store inside Rasa's FailSafeTrackerStore / AwaitableTrackerStore wrappers, if it is ours."""
    for _ in range(3):
        if isinstance(tracker_store, FencedRedisTrackerStore):
            return tracker_store
        tracker_store = getattr(tracker_store, "_tracker_store", None)
    return None


async def recorded_replies(store: FencedRedisTrackerStore, sender_id: str, turn_id: str) -> Optional[List[BotUttered]]:
    """What the assistant said after this turn's user message, when the turn is stored and stands."""
    if not store.turn_stored(sender_id, turn_id):
        return None
    tracker = await store.retrieve_full_tracker(sender_id)
    events = list(tracker.events) if tracker is not None else []
    starts = [i for i, e in enumerate(events) if isinstance(e, UserUttered) and e.message_id == turn_id]
    if not starts:
        return None
    replies: List[BotUttered] = []
    for event in events[starts[-1] + 1 :]:
        if isinstance(event, UserUttered):
            break
        if isinstance(event, UserUtteranceReverted):
            return None  # the turn was undone: handle the message again
        if isinstance(event, BotUttered):
            replies.append(event)
    return replies or None


async def replay(tracker_store: Any, message: UserMessage, turn_id: str) -> bool:
    """Send the stored answer of this turn to the message's output channel; False when there is none."""
    store = fenced_store(tracker_store)
    if store is None or message.output_channel is None:
        return False
    replies = await recorded_replies(store, message.sender_id, turn_id)
    if replies is None:
        return False
    for bot in replies:
        data = {k: v for k, v in (bot.data or {}).items() if v is not None}
        await message.output_channel.send_response(message.sender_id, {"text": bot.text, **data})
    return True
