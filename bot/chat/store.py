"""What the channels keep in Redis (async): each conversation's language and the rate-limit counters.

Redis trouble never stops a conversation: a lost language is set again on Rasa, and the rate limiter
lets messages through (Rasa keeps its trackers in the same Redis, so it fails loudly anyway).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from bot.settings import settings
from bot.shared.metrics import Pending, metrics_key
from bot.shared.redis_conn import CLIENT_DEFAULTS, KEY_PREFIX, conversation_keys

logger = logging.getLogger(__name__)


def async_redis_from_env(**kwargs: Any) -> aioredis.Redis:
    """Same URL (REDIS_URL, else REDIS_HOST/PORT/DB) and short timeouts as bot.shared.redis_conn.redis_from_env,
    for asyncio code; keyword arguments override the defaults."""
    options: Dict[str, Any] = {
        **CLIENT_DEFAULTS,
        "retry": Retry(NoBackoff(), 0),  # no retry with back-off: a dead Redis must cost milliseconds, not seconds
        **kwargs,
    }
    return aioredis.Redis.from_url(settings().redis_connection_url, **options)


class LanguageMemory:
    """The language the assistant was last told to use in a conversation (mirrors Rasa's `language` slot)."""

    def __init__(self, client: aioredis.Redis, ttl_seconds: Optional[int] = None) -> None:
        self.redis = client
        self.ttl = ttl_seconds or settings().tracker_ttl_seconds

    def _key(self, sender: str) -> str:
        return conversation_keys(sender).language

    async def get(self, sender: str) -> Optional[str]:
        try:
            value = await self.redis.get(self._key(sender))
        except RedisError as error:
            logger.warning("language memory unavailable: %s", type(error).__name__)
            return None
        return value if value in ("en", "zh") else None

    async def set(self, sender: str, language: str) -> None:
        try:
            await self.redis.set(self._key(sender), language, ex=self.ttl)
        except RedisError as error:
            logger.warning("language memory unavailable: %s", type(error).__name__)

    async def forget(self, sender: str) -> None:
        try:
            await self.redis.delete(self._key(sender))
        except RedisError as error:
            logger.warning("language memory unavailable: %s", type(error).__name__)


# KEYS: the counters to raise, the key to read, the metrics hash. ARGV: window TTL, then (field, amount, 'i' or
# 'f') for each pending metrics update (bot.shared.metrics.Pending). Returns the counts, then the value read.
_GATE = """
local out = {}
local n = #KEYS - 2
for i = 1, n do
  out[i] = redis.call('INCR', KEYS[i])
  if out[i] == 1 then redis.call('EXPIRE', KEYS[i], ARGV[1]) end
end
out[n + 1] = redis.call('GET', KEYS[n + 1]) or ''
for j = 2, #ARGV, 3 do
  if ARGV[j + 2] == 'f' then
    redis.call('HINCRBYFLOAT', KEYS[n + 2], ARGV[j], ARGV[j + 1])
  else
    redis.call('HINCRBY', KEYS[n + 2], ARGV[j], ARGV[j + 1])
  end
end
return out
"""


class RateLimiter:
    """Fixed one-minute windows in Redis: INCR a per-window counter, refuse past the limit."""

    def __init__(self, client: aioredis.Redis, window_seconds: int = 60) -> None:
        self.redis = client
        self.window = window_seconds
        self._gate = client.register_script(_GATE)

    def _key(self, scope: str, ident: str, window: int) -> str:
        return f"{KEY_PREFIX}:chat:rate:{scope}:{ident}:{window}"

    async def gate(self, hits: Sequence[Tuple[str, str, int]], read: str,
                   pending: Optional[Pending] = None) -> Tuple[int, Optional[str]]:
        """Count one request against each (scope, ident, limit), read key `read` and write what `pending` holds
        of the metrics, in ONE round trip (a script): (0 or the seconds until the first exceeded window ends,
        the value read). Redis down: let it through, nothing read, the metrics kept for the next try."""
        now = time.time()
        window = int(now // self.window)
        active = [(scope, ident, limit) for scope, ident, limit in hits if limit > 0]
        updates = pending.take() if pending is not None else []
        args: List[Any] = [self.window + 5]
        for name, amount in updates:
            args += [name, repr(amount), "f"] if isinstance(amount, float) else [name, int(amount), "i"]
        try:
            result = await self._gate(keys=[*(self._key(s, i, window) for s, i, _ in active), read, metrics_key()],
                                      args=args)
        except RedisError as error:
            if pending is not None:
                pending.add(updates)
            logger.warning("rate limiter unavailable, letting the message through: %s", type(error).__name__)
            return 0, None
        counts, value = result[:-1], result[-1]
        over = any(int(count) > limit for count, (_, _, limit) in zip(counts, active, strict=True))
        retry = max(1, int((window + 1) * self.window - now + 0.999)) if over else 0
        return retry, (value or None)

    async def hit(self, scope: str, ident: str, limit: int) -> int:
        """Count one request; 0 when allowed, else the seconds until the window ends (for Retry-After)."""
        if limit <= 0:
            return 0
        now = time.time()
        window = int(now // self.window)
        key = self._key(scope, ident, window)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, self.window + 5)
                count, _ = await pipe.execute()
        except RedisError as error:
            logger.warning("rate limiter unavailable, letting the message through: %s", type(error).__name__)
            return 0
        if int(count) <= limit:
            return 0
        return max(1, int((window + 1) * self.window - now + 0.999))
