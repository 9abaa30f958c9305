"""The assistant's buttons as inline keyboards. Telegram's callback_data holds at most 64 bytes and
Rasa payloads (`/inform{"choice":"fortune_global_500"}`) can be longer, so long ones travel as a short
id that maps back to the payload (Redis, shared by every bridge process; an in-process LRU as well).
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from typing import Optional, Sequence, Tuple

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.shared.redis_conn import conversation_keys
from bot.shared.replies import Button

logger = logging.getLogger(__name__)

CALLBACK_LIMIT = 64  # bytes, Telegram's limit for callback_data
REF_PREFIX = "p:"  # a short id for a payload too long to carry
LANG_PREFIX = "lang:"  # the /language chooser's own buttons
BUTTON_TTL = 30 * 24 * 3600


class PayloadStore:
    """Payloads too long for callback_data, kept per conversation (a Redis hash under the conversation's
    `buttons` key, so erasing the conversation removes them) and in a small local LRU."""

    def __init__(self, client: Optional[aioredis.Redis], capacity: int = 5000) -> None:
        self.redis = client
        self.capacity = capacity
        self._local: OrderedDict[Tuple[str, str], str] = OrderedDict()

    def _keep(self, conversation: str, ref: str, payload: str) -> None:
        self._local[(conversation, ref)] = payload
        self._local.move_to_end((conversation, ref))
        while len(self._local) > self.capacity:
            self._local.popitem(last=False)

    def forget(self, conversation: str) -> None:
        """Drop the local copies of a conversation's buttons (Redis's go with the conversation's keys)."""
        for key in [k for k in self._local if k[0] == conversation]:
            del self._local[key]

    async def callback_data(self, payload: str, conversation: str) -> str:
        """What to put in callback_data for a button with this payload in this conversation."""
        if payload.startswith("/") and len(payload.encode("utf-8")) <= CALLBACK_LIMIT:
            return payload  # Rasa payloads start with "/": they cannot be mistaken for a ref or a language choice
        ref = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]  # same payload, same id: idempotent
        self._keep(conversation, ref, payload)
        if self.redis is not None:
            key = conversation_keys(conversation).buttons
            try:
                pipe = self.redis.pipeline()
                pipe.hset(key, ref, payload)
                pipe.expire(key, BUTTON_TTL)
                await pipe.execute()
            except RedisError as error:
                logger.warning("button store unavailable, keeping the payload in memory: %s", type(error).__name__)
        return REF_PREFIX + ref

    async def payload(self, data: str, conversation: str) -> Optional[str]:
        """The payload a button pressed in this conversation stands for; None when it is unknown (expired,
        erased, from another conversation, or not ours)."""
        if data.startswith("/"):
            return data
        if not data.startswith(REF_PREFIX):
            return None
        ref = data[len(REF_PREFIX) :]
        if (conversation, ref) in self._local:
            self._local.move_to_end((conversation, ref))
            return self._local[(conversation, ref)]
        if self.redis is None:
            return None
        try:
            return await self.redis.hget(conversation_keys(conversation).buttons, ref)
        except RedisError as error:
            logger.warning("button store unavailable: %s", type(error).__name__)
            return None


async def keyboard(buttons: Sequence[Button], store: PayloadStore, conversation: str) -> Optional[InlineKeyboardMarkup]:
    """One button per row: titles are often long phrases, and a column reads well on a phone."""
    if not buttons:
        return None
    rows = [[InlineKeyboardButton(b.title or "…", callback_data=await store.callback_data(b.payload, conversation))]
            for b in buttons]
    return InlineKeyboardMarkup(rows)


def language_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("English", callback_data=LANG_PREFIX + "en"),
                InlineKeyboardButton("中文", callback_data=LANG_PREFIX + "zh"),
            ]
        ]
    )
