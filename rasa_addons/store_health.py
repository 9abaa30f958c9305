"""What state a Rasa server's tracker and lock stores are in, and the way back from Rasa's silent fallback.

Rasa wraps the configured tracker store in a FailSafeTrackerStore: when Redis fails, `retrieve` answers
None (the message is handled as if the conversation were new) and `save` writes to an in-memory store
that is never read again. Nothing but an error line tells. Here we look at that wrapper from outside:
the configured store's type, whether its Redis answers, and how many conversations sit in the fallback.
Once Redis answers again those in-memory copies are dropped: they were built from an empty tracker, so
merging them would overwrite real conversations; each conversation goes on from its last state in Redis.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional

import redis

logger = logging.getLogger(__name__)

PING_TIMEOUT_SECONDS = 1.0


def _unwrap(store: Any) -> Any:
    """The configured store inside Rasa's FailSafeTrackerStore / AwaitableTrackerStore wrappers."""
    for _ in range(3):
        inner = getattr(store, "_tracker_store", None)
        if inner is None:
            return store
        store = inner
    return store


def _ping(client: Any) -> Optional[bool]:
    """True/False for a Redis-backed store (a short-timeout copy of its connection), None for others."""
    if not isinstance(client, redis.Redis):
        return None
    pool = client.connection_pool
    kwargs = dict(pool.connection_kwargs)
    kwargs.update(socket_timeout=PING_TIMEOUT_SECONDS, socket_connect_timeout=PING_TIMEOUT_SECONDS)
    # The same connection class too: a TLS (rediss://) store must be probed over TLS.
    probe = redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))
    try:
        return bool(probe.ping())
    except redis.RedisError:
        return False
    finally:
        probe.close()
        probe.connection_pool.disconnect()


def fallback_conversations(tracker_store: Any) -> int:
    fallback = getattr(tracker_store, "_fallback_tracker_store", None)
    return len(getattr(fallback, "store", {}) or {}) if fallback is not None else 0


@dataclass
class StoreHealth:
    tracker_store: str
    tracker_store_reachable: Optional[bool]
    lock_store: str
    lock_store_reachable: Optional[bool]
    in_memory_fallback: int  # conversations Rasa has kept in memory only, right now
    model_loaded: bool

    @property
    def ready(self) -> bool:
        persistent = self.tracker_store != "InMemoryTrackerStore" and self.lock_store != "InMemoryLockStore"
        return (
            self.model_loaded
            and persistent
            and self.tracker_store_reachable is not False
            and self.lock_store_reachable is not False
            and self.in_memory_fallback == 0
        )


def inspect(agent: Any) -> StoreHealth:
    """Blocking (Redis pings): call it from a thread, not the event loop."""
    tracker_store = getattr(agent, "tracker_store", None)
    primary = _unwrap(tracker_store)
    lock_store = getattr(agent, "lock_store", None)
    return StoreHealth(
        tracker_store=type(primary).__name__,
        tracker_store_reachable=_ping(getattr(primary, "red", None)),
        lock_store=type(lock_store).__name__,
        lock_store_reachable=_ping(getattr(lock_store, "red", None)),
        in_memory_fallback=fallback_conversations(tracker_store),
        model_loaded=bool(agent is not None and agent.is_ready()),
    )


@dataclass
class Monitor:
    """Turns store checks into log lines on every change of state and drops the fallback on recovery."""

    last: Optional[StoreHealth] = None
    fallbacks_seen: int = 0  # conversations dropped from the in-memory fallback since start
    last_fallback_at: Optional[float] = None

    def observe(self, agent: Any, health: StoreHealth) -> StoreHealth:
        previous = self.last
        if health.tracker_store_reachable is False and (previous is None or previous.tracker_store_reachable is not False):
            logger.error("tracker store %s: Redis unreachable; messages cannot be handled until it returns", health.tracker_store)
        if health.lock_store_reachable is False and (previous is None or previous.lock_store_reachable is not False):
            logger.error("lock store %s: Redis unreachable", health.lock_store)
        if health.in_memory_fallback and (previous is None or not previous.in_memory_fallback):
            logger.error(
                "Rasa fell back to its in-memory tracker store for %d conversation(s): their turns are not in Redis",
                health.in_memory_fallback,
            )
            self.last_fallback_at = time.time()
        if health.in_memory_fallback and health.tracker_store_reachable:
            dropped = drop_fallback(agent)
            self.fallbacks_seen += dropped
            logger.warning(
                "tracker store back: dropped %d in-memory conversation copies; they go on from their state in Redis",
                dropped,
            )
            health.in_memory_fallback = fallback_conversations(getattr(agent, "tracker_store", None))
        if previous is not None and not previous.ready and health.ready:
            logger.info("stores healthy again (%s, %s)", health.tracker_store, health.lock_store)
        self.last = health
        return health

    def report(self, health: StoreHealth) -> Dict[str, Any]:
        body = asdict(health)
        body.update(
            status="ready" if health.ready else "degraded",
            fallback_conversations_dropped=self.fallbacks_seen,
            last_fallback_at=self.last_fallback_at,
        )
        return body


def drop_fallback(agent: Any) -> int:
    tracker_store = getattr(agent, "tracker_store", None)
    count = fallback_conversations(tracker_store)
    if hasattr(tracker_store, "_fallback_tracker_store"):
        tracker_store._fallback_tracker_store = None  # Rasa makes a fresh one on its next failure
    return count
