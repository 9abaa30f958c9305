"""A conversation lock that is safe across Rasa replicas and lets go within seconds of a replica's death.

Rasa's RedisLockStore keeps a conversation's ticket queue as one JSON value that each step reads,
changes and writes back (RasaHQ/rasa#9213). Two replicas that take a ticket for the same conversation
at once both read the same queue and both write back "ticket N": both are then served together, both
read the tracker, and the later save overwrites the earlier turn. The fault test saw exactly that (12
messages answered, 10 in the tracker). Releasing races the same way and can drop a waiter's ticket.
And a ticket lives 60 s: a replica that dies mid-turn blocks that user for a minute.

Here each step is one Lua script, so Redis runs it whole (keys: bot.shared.redis_conn.conversation_keys):
  queue  `<prefix>:lock:<id>:q`  sorted set, member = ticket (a random token), score = arrival number
  leases `<prefix>:lock:<id>:l`  hash, ticket -> lease expiry (ms, Redis's own clock)
  seq    `<prefix>:lock:<id>:n`  arrival counter (INCR)
A ticket is served when it is the oldest live one. Every ticket, served or waiting, is a lease of
LOCK_LEASE_SECONDS that a thread of the process holding it renews; a process that dies stops renewing,
and its tickets lapse within one lease, so the next message goes on after seconds, not a minute. The
lease also ends after LOCK_MAX_HOLD_SECONDS (Rasa's lifetime, 60 s) even if renewed: a hung turn cannot
block a conversation for ever.

Fencing: a turn whose lease lapsed anyway (a process frozen for longer than a lease) must not save over
its successor. The ticket held in this task is in `held()`; rasa_addons.tracker_store saves only while
that ticket is still served, checked in the same script as the write.

The lock is re-entrant within one task: the guarded REST channel takes it before Rasa's agent does (to
answer a retried message from the tracker, see rasa_addons.turns), and the agent's own `lock()` then
goes on under the same ticket.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, AsyncGenerator, Dict, Optional, Tuple

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LockError, LockStore

from bot.shared.config import env_float
from bot.shared.redis_conn import KEY_PREFIX, conversation_keys
from rasa_addons.redis_url import connect, store_url

logger = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 4.0
DEFAULT_MAX_HOLD_SECONDS = 60.0
KEY_TTL_MS = 24 * 3600 * 1000  # keys of a conversation nobody writes to any more go away by themselves
POLL_SECONDS = (0.005, 0.01, 0.02, 0.04, 0.05)  # then every 50 ms: a waiter starts soon after its turn comes

_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "

# Drops lapsed tickets from the head of the queue (only the head decides who is served); leaves the
# live head's ticket in `head` (nil for an empty queue).
_PURGE_HEAD = """
local head
while true do
  head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
  if not head then break end
  local expiry = tonumber(redis.call('HGET', KEYS[2], head))
  if expiry and expiry >= now then break end
  redis.call('ZREM', KEYS[1], head)
  redis.call('HDEL', KEYS[2], head)
end
"""

ISSUE = (
    _NOW
    + """
local n = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[1], n, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], now + tonumber(ARGV[2]))
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
return n
"""
)

# 1: this ticket is served; 0: it waits; -1: it is gone (lapsed or released).
POLL = (
    _NOW
    + _PURGE_HEAD
    + """
if head == ARGV[1] then return 1 end
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
return -1
"""
)

RENEW = (
    _NOW
    + """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[1], now + tonumber(ARGV[2]))
  return 1
end
return 0
"""
)

# The arrival counter stays (until its TTL) so that numbers keep rising across turns: they show the order
# in which a conversation's messages arrived, whichever replica took them.
RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1], KEYS[2]) end
return 1
"""

# The fence used by the tracker store: KEYS[1..2] are the lock's, ARGV[1] the ticket ('' when the save is
# made outside any lock); ends the script with 0 unless that ticket is the one served.
FENCE = (
    _NOW
    + "if ARGV[1] ~= '' then "
    + _PURGE_HEAD
    + " if head ~= ARGV[1] then return 0 end end "
)


@dataclass(frozen=True)
class Held:
    """The ticket this task holds for a conversation, and where its lock lives."""

    conversation_id: str
    ticket: str
    keys: Tuple[str, str, str]


_held: ContextVar[Optional[Held]] = ContextVar("gzcp_conversation_lock", default=None)


def held() -> Optional[Held]:
    return _held.get()


class Heartbeat:
    """One daemon thread per process renews the leases of every ticket the process holds or waits with.

    A thread, not an event-loop task: a turn busy on the CPU delays the loop, never the renewals.
    """

    def __init__(self, store: LeasedRedisLockStore) -> None:
        self.store = store
        self._tickets: Dict[str, Tuple[Tuple[str, str, str], float]] = {}  # ticket -> (keys, give up at)
        self._guard = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._failing = False

    def add(self, ticket: str, keys: Tuple[str, str, str]) -> None:
        with self._guard:
            self._tickets[ticket] = (keys, time.monotonic() + self.store.max_hold_seconds)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="lock-heartbeat", daemon=True)
                self._thread.start()

    def remove(self, ticket: str) -> None:
        with self._guard:
            self._tickets.pop(ticket, None)

    def _run(self) -> None:
        while True:
            time.sleep(self.store.lease_seconds / 4)
            now = time.monotonic()
            with self._guard:
                expired = [t for t, (_, until) in self._tickets.items() if until <= now]
                for ticket in expired:
                    del self._tickets[ticket]  # held too long: let the lease lapse
                due = list(self._tickets.items())
            if expired:
                logger.error("%d conversation lock(s) held past %.0f s; letting them lapse", len(expired),
                             self.store.max_hold_seconds)
            if not due:
                continue
            try:
                pipe = self.store.red.pipeline(transaction=False)
                for ticket, (keys, _) in due:
                    self.store.renew_script(keys=list(keys), args=[ticket, self.store.lease_ms], client=pipe)
                pipe.execute()
                if self._failing:
                    logger.info("conversation lock leases renewed again")
                self._failing = False
            except redis.RedisError as error:
                if not self._failing:
                    logger.error("could not renew conversation lock leases (%s)", type(error).__name__)
                self._failing = True


def _seconds(value: Any) -> Optional[float]:
    return float(value) if value not in (None, "") else None


class LeasedRedisLockStore(LockStore):
    """Configured in endpoints.yml as `type: rasa_addons.lock_store.LeasedRedisLockStore` with
    `url: ${REDIS_URL}` (rasa_addons.redis_url) and `key_prefix`; Rasa's host/port/db/password/use_ssl
    keys still work."""

    def __init__(
        self,
        endpoint_config: Any = None,
        host: Optional[str] = None,
        key_prefix: Optional[str] = None,
        socket_timeout: float = 10,
        lease_seconds: Optional[float] = None,
        max_hold_seconds: Optional[float] = None,
        **connection: Any,
    ) -> None:
        """`host`: a Redis URL, empty for REDIS_URL, or a host name with Rasa's port/db/... keys in `connection`."""
        if endpoint_config is not None:
            kwargs = dict(endpoint_config.kwargs or {})
            host = endpoint_config.url or host
            key_prefix = kwargs.pop("key_prefix", key_prefix)
            socket_timeout = float(kwargs.pop("socket_timeout", socket_timeout))
            lease_seconds = lease_seconds or _seconds(kwargs.pop("lease_seconds", None))
            max_hold_seconds = max_hold_seconds or _seconds(kwargs.pop("max_hold_seconds", None))
            connection = {**kwargs, **connection}
        url = store_url(host, **connection)
        self.red = connect(url, socket_timeout=socket_timeout)
        self.prefix = str(key_prefix) if key_prefix and str(key_prefix).isalnum() else KEY_PREFIX
        self.lease_seconds = lease_seconds or env_float("LOCK_LEASE_SECONDS", DEFAULT_LEASE_SECONDS, minimum=0.5)
        self.max_hold_seconds = max_hold_seconds or env_float("LOCK_MAX_HOLD_SECONDS", DEFAULT_MAX_HOLD_SECONDS, minimum=1)
        self.lease_ms = int(self.lease_seconds * 1000)
        self.issue_script = self.red.register_script(ISSUE)
        self.poll_script = self.red.register_script(POLL)
        self.renew_script = self.red.register_script(RENEW)
        self.release_script = self.red.register_script(RELEASE)
        self.heartbeat = Heartbeat(self)
        super().__init__()

    def keys(self, conversation_id: str) -> Tuple[str, str, str]:
        return conversation_keys(conversation_id, self.prefix).lock

    # --- the lock itself ---------------------------------------------------------------------------
    @asynccontextmanager
    async def lock(
        self, conversation_id: str, lock_lifetime: float = 0, wait_time_in_seconds: float = 0
    ) -> AsyncGenerator[Any, None]:
        """Wait for this conversation's turn (arrival order), hold it, let go. Rasa's lifetime and wait
        arguments are ignored: the lease and a short poll replace them."""
        current = _held.get()
        if current is not None and current.conversation_id == conversation_id:
            yield TicketLock(conversation_id)  # re-entered in the same task: same ticket
            return
        keys = self.keys(conversation_id)
        ticket = uuid.uuid4().hex
        try:
            self.issue_script(keys=list(keys), args=[ticket, self.lease_ms, KEY_TTL_MS])
        except redis.RedisError as error:
            raise LockError(f"could not take a ticket: {type(error).__name__}") from error
        self.heartbeat.add(ticket, keys)
        token = None
        try:
            await self._wait_for_turn(conversation_id, ticket, keys)
            token = _held.set(Held(conversation_id, ticket, keys))
            yield TicketLock(conversation_id)
        finally:
            if token is not None:
                _held.reset(token)
            self.heartbeat.remove(ticket)
            try:
                self.release_script(keys=list(keys), args=[ticket])
            except redis.RedisError as error:  # the lease lapses by itself within LOCK_LEASE_SECONDS
                logger.warning("could not release a conversation lock (%s)", type(error).__name__)

    async def _wait_for_turn(self, conversation_id: str, ticket: str, keys: Tuple[str, str, str]) -> None:
        step = 0
        while True:
            try:
                state = self.poll_script(keys=list(keys), args=[ticket])
            except redis.RedisError as error:
                raise LockError(f"could not check the lock: {type(error).__name__}") from error
            if state == 1:
                return
            if state == -1:
                raise LockError("the ticket lapsed while waiting for the conversation lock")
            await asyncio.sleep(POLL_SECONDS[min(step, len(POLL_SECONDS) - 1)])
            step += 1

    # --- Rasa's LockStore interface, for callers other than lock() (none in Rasa 3.6's server) --------
    def get_lock(self, conversation_id: str) -> Optional[TicketLock]:
        return None

    def delete_lock(self, conversation_id: str) -> None:
        self.red.delete(*self.keys(conversation_id))

    def save_lock(self, lock: TicketLock) -> None:
        raise NotImplementedError("tickets are issued by lock()")

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = 0) -> int:
        raise NotImplementedError("tickets are issued by lock()")

    def is_someone_waiting(self, conversation_id: str) -> bool:
        return bool(self.red.zcard(self.keys(conversation_id)[0]))
