"""Rasa's Redis tracker store, changed so that a turn costs the same on the 5th and the 500th message.

Rasa's own Redis store keeps a conversation as one JSON document: every turn reads it whole, rebuilds every
event, merges the saved copy with the new one (comparing every event with every other) and writes it whole
again, and the action server receives every event. A conversation's cost grew with the square of its length.
Here a conversation is

- `<prefix>:tracker:<id>`, a Redis **list of events** (JSON, oldest first): the full history, for the staff
  transcript, the widget's history and erasure; a turn only **appends** its new events;
- `<prefix>:session:<id>`, a small hash: where the current session starts in that list, and the slots and
  active form as they stood after the last turn (a snapshot).

`retrieve` (what a turn reads) returns the current session, and for a session longer than WINDOW events only
its last WINDOW events (from a user message on), preceded by the snapshot as SlotSet/ActiveLoop events:
the same slots, form and recent turns the policies and forms read, at a bounded cost. Rasa's HTTP API reads
the whole history (`retrieve_full_tracker`). A conversation stored by the previous version (one JSON
document) is converted on first read.

Two additions from before, each done in the same Redis script as the write:

- **Fenced saves.** Inside a conversation lock (rasa_addons.lock_store) events are appended only while this
  task's ticket is still the one served, and only onto the history this turn read (a length check): a turn
  whose lease lapsed fails with LockLost instead of overwriting or interleaving with its successor's turn;
  the turn guard refuses it and the gateway sends the message again.
- **Stored turns.** The save also records the message id of the conversation's latest user message in
  `<prefix>:turns:<id>` (a sorted set by time, kept TURN_MEMORY_SECONDS), so a message sent again after
  its answer was lost (a replica died before replying) is answered from the tracker instead of being
  handled twice (rasa_addons.turns).

Configured in endpoints.yml as `type: rasa_addons.tracker_store.FencedRedisTrackerStore` with
`url: ${REDIS_URL}` (rasa_addons.redis_url: a password, an ACL user and TLS come with the URL; Rasa's
separate host/port/db keys still work) and Rasa's other `redis` tracker store keys.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Sequence, Tuple

from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.shared.redis_conn import KEY_PREFIX, conversation_keys, rasa_store_options
from bot.shared.secrets import refuse_development_secrets
from rasa_addons import lock_store, speedups
from rasa_addons.redis_url import connect, store_url

speedups.apply()  # events are read back by the hundred here: find their classes in a dictionary

CONNECTION_KEYS = ("port", "db", "username", "password", "use_ssl", "ssl_keyfile", "ssl_certfile", "ssl_ca_certs")
TURN_MEMORY_SECONDS = 3600  # a message is sent again within seconds; an hour is ample
WINDOW = 160  # events of a long session a turn reads: many turns, far beyond what the policies look back on
_LOADED = "_gzcp_loaded"  # (history length, events handed to Rasa) set on each tracker retrieve returns

# KEYS: lock queue, lock leases, event list, turns, session hash.
# ARGV: ticket ('' = no lock), TTL in ms (0 = none), message id ('' = none), turn memory in ms,
# expected history length (-1 = rewrite the history), session start index (-1 = unchanged), snapshot JSON,
# then the events to append. Returns the new history length + 1, 0 when the lock was lost, -1 on a length clash.
SAVE = (
    lock_store.FENCE
    + """
local expected = tonumber(ARGV[5])
if expected < 0 then
  redis.call('DEL', KEYS[3])
elseif redis.call('LLEN', KEYS[3]) ~= expected then
  return -1
end
for i = 8, #ARGV, 1000 do
  redis.call('RPUSH', KEYS[3], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
local length = redis.call('LLEN', KEYS[3])
if tonumber(ARGV[6]) >= 0 then redis.call('HSET', KEYS[5], 'start', ARGV[6]) end
redis.call('HSET', KEYS[5], 'snapshot', ARGV[7])
if tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[3], ARGV[2])
  redis.call('PEXPIRE', KEYS[5], ARGV[2])
end
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[4], now, ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - tonumber(ARGV[4]))
  redis.call('PEXPIRE', KEYS[4], ARGV[4])
end
return length + 1
"""
)

# KEYS: event list, session hash. ARGV: window. Returns {type, length, start, snapshot, events...}: the
# current session's last `window` events in one round trip (type 'string': a tracker of the old format, whole).
LOAD = """
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'string' then return {'string', 0, 0, '', redis.call('GET', KEYS[1])} end
if kind ~= 'list' then return {'none', 0, 0, ''} end
local length = redis.call('LLEN', KEYS[1])
local start = tonumber(redis.call('HGET', KEYS[2], 'start') or '0')
local snapshot = redis.call('HGET', KEYS[2], 'snapshot') or ''
local first = math.max(start, length - tonumber(ARGV[1]))
local result = {'list', length, start, snapshot}
for _, event in ipairs(redis.call('LRANGE', KEYS[1], first, -1)) do result[#result + 1] = event end
result[#result + 1] = first
return result
"""


class LockLost(Exception):
    """This turn's conversation lock lapsed, or another turn wrote meanwhile: the save was refused."""


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
        self.key_prefix = conversation_keys("", self.prefix).tracker  # Rasa's keys() lists conversations by it
        self.save_script = self.red.register_script(SAVE)
        self.load_script = self.red.register_script(LOAD)
        self.window = WINDOW

    # --- reading ----------------------------------------------------------------------------------------

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The current session, its last `window` events after a snapshot of its slots and form when longer."""
        return self._load(sender_id, self.window)

    async def retrieve_full_tracker(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """Every event of every session (Rasa's HTTP API: transcripts, the widget's history)."""
        keys = conversation_keys(sender_id, self.prefix)
        if self.red.type(keys.tracker) == "string":
            self._convert(sender_id)
        raw = self.red.lrange(keys.tracker, 0, -1)
        if not raw:
            return None
        return self._tracker(sender_id, [], raw, (len(raw), len(raw)))

    async def _retrieve(self, sender_id: str, fetch_all_sessions: bool) -> Optional[DialogueStateTracker]:
        return await (self.retrieve_full_tracker(sender_id) if fetch_all_sessions else self.retrieve(sender_id))

    def _load(self, sender_id: str, window: int) -> Optional[DialogueStateTracker]:
        keys = conversation_keys(sender_id, self.prefix)
        result = self.load_script(keys=[keys.tracker, keys.session], args=[window])
        kind = result[0]
        if kind == "string":
            self._convert(sender_id)
            return self._load(sender_id, window)
        if kind != "list" or int(result[1]) == 0:
            return None
        length, start, snapshot = int(result[1]), int(result[2]), result[3]
        raw, first = result[4:-1], int(result[-1])
        if first > start:  # a long session: from its first user message in the window, after the snapshot
            at = next((i for i, item in enumerate(raw) if '"event": "user"' in item), 0)
            raw = raw[at:]
            prefix = _snapshot_events(snapshot)
        else:
            prefix = []
        return self._tracker(sender_id, prefix, raw, (length, len(prefix) + len(raw)))

    def _tracker(self, sender_id: str, prefix: List[Event], raw: Sequence[str],
                 loaded: Tuple[int, int]) -> DialogueStateTracker:
        tracker = self.init_tracker(sender_id)
        events = prefix + [e for e in (Event.from_parameters(json.loads(item)) for item in raw) if e is not None]
        tracker.update_with_events(events, self.domain, override_timestamp=False)
        setattr(tracker, _LOADED, loaded)
        return tracker

    def _convert(self, sender_id: str) -> None:
        """A conversation stored whole by the previous version becomes an event list (its TTL kept)."""
        keys = conversation_keys(sender_id, self.prefix)
        stored = self.red.get(keys.tracker)
        if stored is None:
            return
        old = self.deserialise_tracker(sender_id, stored)
        events = list(old.events) if old is not None else []
        ttl = self.red.pttl(keys.tracker)
        pipe = self.red.pipeline()
        pipe.delete(keys.tracker)
        if events:
            pipe.rpush(keys.tracker, *[_dump(e) for e in events])
        pipe.hset(keys.session, mapping={"start": _session_start(events, 0, 0), "snapshot": _snapshot(old)})
        if ttl and ttl > 0:
            pipe.pexpire(keys.tracker, ttl)
            pipe.pexpire(keys.session, ttl)
        pipe.execute()

    # --- writing ----------------------------------------------------------------------------------------

    async def save(self, tracker: DialogueStateTracker, timeout: Optional[float] = None) -> None:
        await self.stream_events(tracker)
        if not timeout and self.record_exp:
            timeout = self.record_exp
        keys = conversation_keys(tracker.sender_id, self.prefix)
        loaded = getattr(tracker, _LOADED, None)
        events = list(tracker.events)
        if loaded is None:  # not read through this store (a new conversation, a replaced history): write it all
            expected, new, base = -1, events, 0
        else:
            expected, new, base = loaded[0], events[loaded[1]:], loaded[0]
        start = _session_start(new, base, -1)
        holder = lock_store.held()
        ticket = holder.ticket if holder is not None and holder.conversation_id == tracker.sender_id else ""
        length = self.save_script(
            keys=[keys.lock_queue, keys.lock_leases, keys.tracker, keys.turns, keys.session],
            args=[
                ticket,
                int(float(timeout) * 1000) if timeout else 0,
                _last_message_id(tracker) or "",
                TURN_MEMORY_SECONDS * 1000,
                expected,
                start,
                _snapshot(tracker),
                *[_dump(e) for e in new],
            ],
        )
        if length == 0:
            raise LockLost("the conversation lock for this turn lapsed; the save was refused")
        if length == -1:
            raise LockLost("the conversation changed while this turn ran; the save was refused")
        setattr(tracker, _LOADED, (int(length) - 1, len(events)))  # saved again later in the same turn: append on

    def turn_stored(self, sender_id: str, message_id: str) -> bool:
        return self.red.zscore(conversation_keys(sender_id, self.prefix).turns, message_id) is not None


def _dump(event: Event) -> str:
    return json.dumps(event.as_dict())


def _session_start(events: Sequence[Event], base: int, default: int) -> int:
    """Index (in the whole history) where the last session among `events` starts (its action_session_start,
    else its SessionStarted event); `events` begin at index `base` of the history."""
    for offset in range(len(events) - 1, -1, -1):
        event = events[offset]
        if isinstance(event, SessionStarted):
            before = events[offset - 1] if offset > 0 else None
            starts_here = isinstance(before, ActionExecuted) and before.action_name == ACTION_SESSION_START_NAME
            return base + offset - (1 if starts_here else 0)
    return default


def _snapshot(tracker: Optional[DialogueStateTracker]) -> str:
    if tracker is None:
        return "{}"
    slots = {name: value for name, value in tracker.current_slot_values().items() if value is not None}
    return json.dumps({"slots": slots, "loop": tracker.active_loop_name})


def _snapshot_events(snapshot: str) -> List[Event]:
    try:
        data: Dict[str, Any] = json.loads(snapshot or "{}")
    except ValueError:
        return []
    events: List[Event] = [SlotSet(name, value) for name, value in (data.get("slots") or {}).items()]
    if data.get("loop"):
        events.append(ActiveLoop(data["loop"]))
    return events


def _last_message_id(tracker: DialogueStateTracker) -> Optional[str]:
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return event.message_id
    return None
