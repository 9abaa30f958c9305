"""Rasa's Redis tracker store with two additions, each done in the same Redis script as the write:

- **Fenced saves.** Inside a conversation lock (rasa_addons.lock_store) a tracker is written only while
  this task's ticket is still the one served. A turn whose lease lapsed (its process froze for longer
  than a lease and a successor started) fails with LockLost instead of overwriting the successor's
  turn; the turn guard refuses it and the gateway sends the message again.
- **Stored turns.** The save also records the message id of the conversation's latest user message in
  `<prefix>:turns:<id>` (a sorted set by time, kept TURN_MEMORY_SECONDS), so a message sent again after
  its answer was lost (a replica died before replying) is answered from the tracker instead of being
  handled twice (rasa_addons.turns).

Configured in endpoints.yml as `type: rasa_addons.tracker_store.FencedRedisTrackerStore` with
`url: ${REDIS_URL}` (rasa_addons.redis_url: a password, an ACL user and TLS come with the URL; Rasa's
separate host/port/db keys still work) and Rasa's other `redis` tracker store keys.
"""

from __future__ import annotations

from typing import Any, Optional

from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.shared.redis_conn import KEY_PREFIX, conversation_keys, rasa_store_options
from bot.shared.secrets import refuse_development_secrets
from rasa_addons import lock_store
from rasa_addons.redis_url import connect, store_url

CONNECTION_KEYS = ("port", "db", "username", "password", "use_ssl", "ssl_keyfile", "ssl_certfile", "ssl_ca_certs")
TURN_MEMORY_SECONDS = 3600  # a message is sent again within seconds; an hour is ample

# KEYS: lock queue, lock leases, tracker, turns. ARGV: ticket ('' = no lock), tracker JSON, tracker TTL
# in ms (0 = none), message id ('' = none), turn memory in ms.
SAVE = (
    lock_store.FENCE
    + """
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[3], ARGV[2])
end
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[4], now, ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - tonumber(ARGV[5]))
  redis.call('PEXPIRE', KEYS[4], ARGV[5])
end
return 1
"""
)


class LockLost(Exception):
    """This turn's conversation lock lapsed before its tracker was saved: the save was refused."""


class FencedRedisTrackerStore(RedisTrackerStore):
    def __init__(self, domain: Any, host: Optional[str] = None, key_prefix: Optional[str] = None, **kwargs: Any) -> None:
        """`host`: a Redis URL (endpoints.yml's `url`), empty for REDIS_URL, or Rasa's host name + port/db/... keys."""
        connection = {key: kwargs.pop(key) for key in CONNECTION_KEYS if key in kwargs}
        url = store_url(host, **connection)
        refuse_development_secrets("Rasa server")  # built at start: APP_ENV=production stops on a dev secret
        super().__init__(domain, key_prefix=key_prefix, **rasa_store_options(url), **kwargs)
        # Rasa's constructor knows only some of a URL's options (not ssl_cert_reqs, timeouts, ...): connect
        # with all of them, as Rasa would otherwise (decoded responses, no socket timeout).
        self.red = connect(url, decode_responses=True)
        self.prefix = str(key_prefix) if key_prefix and str(key_prefix).isalnum() else KEY_PREFIX
        self.key_prefix = conversation_keys("", self.prefix).tracker  # what Rasa's retrieve reads
        self.save_script = self.red.register_script(SAVE)

    async def save(self, tracker: DialogueStateTracker, timeout: Optional[float] = None) -> None:
        await self.stream_events(tracker)
        if not timeout and self.record_exp:
            timeout = self.record_exp
        keys = conversation_keys(tracker.sender_id, self.prefix)
        stored = self.red.get(keys.tracker)
        if stored is not None:  # earlier sessions are kept (retrieve hands Rasa only the last one)
            tracker = self._merge_trackers(self.deserialise_tracker(tracker.sender_id, stored), tracker)

        holder = lock_store.held()
        ticket = holder.ticket if holder is not None and holder.conversation_id == tracker.sender_id else ""
        saved = self.save_script(
            keys=[keys.lock_queue, keys.lock_leases, keys.tracker, keys.turns],
            args=[
                ticket,
                self.serialise_tracker(tracker),
                int(float(timeout) * 1000) if timeout else 0,
                _last_message_id(tracker) or "",
                TURN_MEMORY_SECONDS * 1000,
            ],
        )
        if not saved:
            raise LockLost("the conversation lock for this turn lapsed; the save was refused")

    def turn_stored(self, sender_id: str, message_id: str) -> bool:
        return self.red.zscore(conversation_keys(sender_id, self.prefix).turns, message_id) is not None


def _last_message_id(tracker: DialogueStateTracker) -> Optional[str]:
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return event.message_id
    return None
