"""The assistant's buttons on WeChat: a numbered list under the text, answered by typing the number.

A passive reply can only be text, so buttons become lines `1. 企业`, `2. …` and a hint. The payloads behind
the numbers are kept per conversation in Redis (under the conversation's own key, so erasing the conversation
removes them; shared by every web app process) until the next answer replaces or clears them: a number typed
when no list is showing goes to the assistant as the number it is.

When a button's title holds a digit ("20–299 employees", "1 亿元以上") the question usually accepts a number as
an answer too, so that list is lettered (A, B, …) and a typed number stays a number.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import List, Optional, Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.shared.redis_conn import conversation_keys
from bot.shared.replies import Button
from bot.wechat.text import word

logger = logging.getLogger(__name__)

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_CHOICES = len(LETTERS)
_ANSWER = re.compile(r"^[(\[]?\s*([0-9]{1,2}|[A-Za-z])\s*[)\].,、:]?$")  # "2", "2.", "(2)", "b", "B、" (after NFKC)


@dataclass(frozen=True)
class Menu:
    letters: bool  # lettered (A, B, …) rather than numbered
    payloads: List[str]

    def label(self, index: int) -> str:
        return LETTERS[index] if self.letters else str(index + 1)

    def lines(self, buttons: Sequence[Button], language: str) -> str:
        items = [f"{self.label(i)}. {b.title or b.payload}" for i, b in enumerate(buttons[:MAX_CHOICES])]
        return "\n".join(items + [word("choose_letter" if self.letters else "choose_number", language)])

    def pick(self, text: str) -> Optional[str]:
        """The payload a typed answer chooses, if it is one of this menu's labels and nothing else."""
        match = _ANSWER.match(unicodedata.normalize("NFKC", text).strip())
        if not match:
            return None
        label = match.group(1).upper()
        if self.letters != label.isalpha():
            return None
        index = LETTERS.index(label) if self.letters else int(label) - 1
        return self.payloads[index] if 0 <= index < len(self.payloads) else None


def menu_for(buttons: Sequence[Button]) -> Menu:
    shown = list(buttons[:MAX_CHOICES])
    letters = any(ch.isdigit() for b in shown for ch in unicodedata.normalize("NFKC", b.title))
    return Menu(letters, [b.payload for b in shown])


class Choices:
    """The list last shown in each conversation (Redis; a lost Redis only means a typed number goes as text)."""

    def __init__(self, client: Optional[aioredis.Redis], ttl_seconds: int) -> None:
        self.redis = client
        self.ttl = ttl_seconds

    async def show(self, conversation: str, menu: Optional[Menu]) -> None:
        """Remember `menu` as what a number answers in this conversation now (None: nothing does)."""
        if self.redis is None:
            return
        key = conversation_keys(conversation).choices
        try:
            if menu is None or not menu.payloads:
                await self.redis.delete(key)
            else:
                await self.redis.set(key, json.dumps({"letters": menu.letters, "payloads": menu.payloads}), ex=self.ttl)
        except RedisError as error:
            logger.warning("wechat choices unavailable: %s", type(error).__name__)

    async def pick(self, conversation: str, text: str) -> Optional[str]:
        """The payload `text` chooses from the list showing in this conversation, or None (send it as typed)."""
        if self.redis is None or len(text) > 8:
            return None
        try:
            raw = await self.redis.get(conversation_keys(conversation).choices)
        except RedisError as error:
            logger.warning("wechat choices unavailable: %s", type(error).__name__)
            return None
        try:
            data = json.loads(raw) if raw else None
            menu = Menu(bool(data["letters"]), [str(p) for p in data["payloads"]]) if isinstance(data, dict) else None
        except (ValueError, KeyError, TypeError):
            return None
        return menu.pick(text) if menu else None
