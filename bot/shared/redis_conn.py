"""One way to reach the project's Redis (REDIS_HOST/PORT/DB), for the action server and the web app alike.

Plain Python that runs on Rasa's 3.10 and the app's 3.11: only redis-py and the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import redis

from bot.shared.config import env_int, env_str

KEY_PREFIX = "gzcp"  # every key this project writes starts with it (endpoints.yml uses the same for Rasa)


def redis_from_env(**kwargs: object) -> redis.Redis:
    """A client for REDIS_HOST:REDIS_PORT/REDIS_DB; short timeouts so a dead Redis fails fast, not silently."""
    options: dict = {
        "host": env_str("REDIS_HOST", "127.0.0.1"),
        "port": env_int("REDIS_PORT", 6379, minimum=1),
        "db": env_int("REDIS_DB", 0, minimum=0),
        "socket_timeout": 3.0,
        "socket_connect_timeout": 2.0,
        "decode_responses": True,
    }
    options.update(kwargs)
    return redis.Redis(**options)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ConversationKeys:
    """Where one conversation lives in Redis: Rasa's stores (rasa_addons) write these, the delivery
    worker erases them. One definition for both sides."""

    tracker: str  # Rasa's tracker (JSON)
    lock_queue: str  # conversation lock: tickets in arrival order (rasa_addons.lock_store)
    lock_leases: str  # ticket -> lease expiry
    lock_seq: str  # arrival counter
    turns: str  # message ids of the stored turns (rasa_addons.tracker_store)
    language: str  # the language the channel last told Rasa (bot.chat.store.LanguageMemory)
    buttons: str  # payloads behind this conversation's Telegram buttons (bot.telegram.keyboards)

    @property
    def lock(self) -> Tuple[str, str, str]:
        return (self.lock_queue, self.lock_leases, self.lock_seq)

    @property
    def all(self) -> Tuple[str, ...]:
        return (self.tracker, self.lock_queue, self.lock_leases, self.lock_seq, self.turns, self.language, self.buttons)


def conversation_keys(conversation_id: str, prefix: str = KEY_PREFIX) -> ConversationKeys:
    lock = f"{prefix}:lock:{conversation_id}"
    return ConversationKeys(
        tracker=f"{prefix}:tracker:{conversation_id}",
        lock_queue=f"{lock}:q",
        lock_leases=f"{lock}:l",
        lock_seq=f"{lock}:n",
        turns=f"{prefix}:turns:{conversation_id}",
        language=f"{prefix}:chat:lang:{conversation_id}",
        buttons=f"{prefix}:telegram:buttons:{conversation_id}",
    )
