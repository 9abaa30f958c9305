"""WeChat's retries recognised: each delivery (MsgId, or user + time for events) is handled once.

WeChat posts a message again when it had no answer within 5 seconds (three tries in all), and a captured
request could be replayed within the timestamp window. The first delivery claims the id in Redis (SET NX, so
all web app processes agree); a repeat gets the passive reply the first one gave, when it gave one in the
last moments (what WeChat retries for), else an empty reply — the first delivery's customer-service message
is on its way. Keys hold only a hash of the delivery id; the remembered reply lives a few seconds.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Optional

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.shared.redis_conn import KEY_PREFIX
from bot.wechat.protocol import REPLAY_WINDOW_SECONDS, Inbound

logger = logging.getLogger(__name__)

CLAIM_SECONDS = 2 * REPLAY_WINDOW_SECONDS  # longer than any request that passes the timestamp check can be replayed
REPLY_SECONDS = 30  # WeChat's retries come within about 15 s


class Deliveries:
    def __init__(self, client: Optional[aioredis.Redis], prefix: str = KEY_PREFIX) -> None:
        self.redis = client
        self.prefix = prefix

    def key(self, message: Inbound) -> str:
        digest = hashlib.sha256(message.delivery_id.encode("utf-8")).hexdigest()[:32]
        return f"{self.prefix}:wechat:delivery:{digest}"

    async def claim(self, message: Inbound) -> bool:
        """True for the first delivery of this message (handle it), False for a repeat. With Redis down every
        delivery is handled: an answer twice is better than none."""
        if self.redis is None:
            return True
        try:
            return bool(await self.redis.set(self.key(message), "1", nx=True, ex=CLAIM_SECONDS))
        except RedisError as error:
            logger.warning("wechat: delivery log unavailable, handling the message anyway: %s", type(error).__name__)
            return True

    async def remember_reply(self, message: Inbound, text: str) -> None:
        if self.redis is None:
            return
        try:
            await self.redis.set(self.key(message) + ":reply", text, ex=REPLY_SECONDS)
        except RedisError as error:
            logger.warning("wechat: delivery log unavailable: %s", type(error).__name__)

    async def reply_of(self, message: Inbound) -> Optional[str]:
        """The passive reply the first delivery gave, if it is still remembered."""
        if self.redis is None:
            return None
        try:
            return await self.redis.get(self.key(message) + ":reply")
        except RedisError as error:
            logger.warning("wechat: delivery log unavailable: %s", type(error).__name__)
            return None
