"""What erasing a conversation removes from Redis, in one place: the delivery worker runs it after the
intake has deleted the conversation's leads (bot.leads.delivery), and tests search Redis against it."""

from __future__ import annotations

import redis

from bot.shared.funnel import Funnel
from bot.shared.redis_conn import KEY_PREFIX, conversation_keys


def forget_conversation(client: redis.Redis, conversation_id: str, prefix: str = KEY_PREFIX) -> None:
    """Delete the conversation's tracker, turn marks, lock counter, remembered language, button payloads (Telegram)
    and numbered choices (WeChat), and
    its unanswered questions (the funnel's day sets hold only a hash, which links to nothing once this is done).
    The lock queue itself is left to the turn that holds it (the worker waits for it to be empty first)."""
    keys = conversation_keys(conversation_id, prefix)
    client.delete(keys.tracker, keys.session, keys.turns, keys.lock_seq, keys.language, keys.buttons, keys.choices)
    Funnel(client, prefix).forget(conversation_id)
