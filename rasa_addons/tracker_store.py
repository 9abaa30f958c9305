"""Rasa's Redis tracker store, changed so that a turn costs the same on the 5th and the 500th message.

Rasa's own Redis store keeps a conversation as one JSON document: every turn reads it whole, rebuilds every
event, merges the saved copy with the new one (comparing every event with every other) and writes it whole
again, and the action server receives every event. A conversation's cost grew with the square of its length.
Here a conversation is

- `<prefix>:tracker:<id>`, a Redis **list of events** (JSON, oldest first): the full history, for the staff
  transcript, the widget's history and erasure; a turn only **appends** its new events;
- `<prefix>:session:<id>`, a small hash: where the current session starts in that list (`start`), where its
  first user message is (`head`), and, once the session is long, a **mark** (`mark`, a later user message)
  with the slots and form **as they stood just before it** (`state`).

`retrieve` (what a turn reads) returns the current session. Once a session is longer than 2 × `window`
events, a save moves the mark to a user message about `window` events back, and a turn then reads the
session's head (its start up to its first user message), the state at the mark as SlotSet/ActiveLoop
events, and the events from the mark on: between `window` and 2 × `window` events, however long the session.
The tracker so rebuilt is the one the full history gives for everything a turn uses: the slots and form now
and at each of its turns (the state is the mark's, not today's), the previous action before the first
message read, and the session head that Rasa's memoization reads when every later turn was a rule's (with
rules not in stories, every turn; without the head a form's turn had no state and the prediction failed).
A mark is put where no form is active and before the memoization policy's last MEMORY_TURNS turns of its own
(fallbacks; rule turns are hidden from it) when such a user message lies within REACH windows, so a form's turns
are read together; otherwise (a form or such a turn older than that) at the latest user message a window back:
the read stays bounded, and the memoization policy then sees the head instead of those older turns. Actions get
what the turn read, except WHOLE_SESSION_ACTIONS (a lead's transcript): every event of the session. Rasa's HTTP
API reads the whole history (`retrieve_full_tracker`). A conversation stored by an earlier version (one JSON
document) is converted on first read; one stored without a head or mark is read whole once and marked on its
next save.

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
separate host/port/db keys still work) and Rasa's other `redis` tracker store keys; the window is
TRACKER_WINDOW events (default 32).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    Event,
    LoopInterrupted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.shared.config import env_int
from bot.shared.redis_conn import KEY_PREFIX, conversation_keys, rasa_store_options
from bot.shared.secrets import refuse_development_secrets
from bot.shared.transcript import WHOLE_SESSION_ACTIONS
from rasa_addons import lock_store, speedups
from rasa_addons.redis_url import connect, store_url

speedups.apply()  # events are read back by the hundred here: find their classes in a dictionary

CONNECTION_KEYS = ("port", "db", "username", "password", "use_ssl", "ssl_keyfile", "ssl_certfile", "ssl_ca_certs")
TURN_MEMORY_SECONDS = 3600  # a message is sent again within seconds; an hour is ample
DEFAULT_WINDOW = 32  # events a long session's turn reads at least (at most twice that): many turns
REACH = 4  # x window: how far back a mark may stay to keep a form's turns or the policy's last turns together
MEMORY_TURNS = 3  # config.yml's MemoizationPolicy max_history (a test checks): its last turns stay in what is read
_LOADED = "_gzcp_loaded"  # a Loaded, set on each tracker retrieve returns and after each save
_STORE = "_gzcp_store"  # the store a tracker was read from

# KEYS: lock queue, lock leases, event list, turns, session hash.
# ARGV: ticket ('' = no lock), TTL in ms (0 = none), message id ('' = none), turn memory in ms,
# expected history length (-1 = rewrite the history), session start, head and mark (-1 = none), the state at
# the mark, then the events to append. Returns the new history length + 1, 0 when the lock was lost, -1 on a
# length clash.
SAVE = (
    lock_store.FENCE
    + """
local expected = tonumber(ARGV[5])
if expected < 0 then
  redis.call('DEL', KEYS[3])
elseif redis.call('LLEN', KEYS[3]) ~= expected then
  return -1
end
for i = 10, #ARGV, 1000 do
  redis.call('RPUSH', KEYS[3], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
local length = redis.call('LLEN', KEYS[3])
redis.call('HSET', KEYS[5], 'start', ARGV[6], 'head', ARGV[7], 'mark', ARGV[8], 'state', ARGV[9])
redis.call('HDEL', KEYS[5], 'snapshot')
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

# KEYS: event list, session hash. Returns {type, length, start, head, mark, state, head count, events...} in one
# round trip: with a mark, the session's head events then the events from the mark on (head count >= 0);
# without, every event of the session (head count -1). Type 'string': a tracker of the old format, whole.
LOAD = """
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'string' then return {'string', 0, 0, -1, -1, '', -1, redis.call('GET', KEYS[1])} end
if kind ~= 'list' then return {'none', 0, 0, -1, -1, '', -1} end
local length = redis.call('LLEN', KEYS[1])
local fields = redis.call('HMGET', KEYS[2], 'start', 'head', 'mark', 'state')
local start = tonumber(fields[1] or '0')
local head = tonumber(fields[2] or '-1')
local mark = tonumber(fields[3] or '-1')
local result = {'list', length, start, head, mark, fields[4] or ''}
if head >= start and mark > head and mark <= length then
  result[#result + 1] = head - start
  if head > start then
    for _, event in ipairs(redis.call('LRANGE', KEYS[1], start, head - 1)) do result[#result + 1] = event end
  end
  start = mark
else
  result[#result + 1] = -1
end
for _, event in ipairs(redis.call('LRANGE', KEYS[1], start, -1)) do result[#result + 1] = event end
return result
"""


@dataclass(frozen=True)
class Loaded:
    """What a tracker was read from: the history's length, how many of the tracker's events came from it,
    where its tail (the events read in order up to the history's end) begins in the tracker, and the session
    hash's fields. History index of tracker position i >= tail: i + length - count."""

    length: int
    count: int
    tail: int
    start: int
    head: int
    mark: int
    state: str


class LockLost(Exception):
    """This turn's conversation lock lapsed, or another turn wrote meanwhile: the save was refused."""


class FencedRedisTrackerStore(RedisTrackerStore):
    def __init__(self, domain: Any, host: Optional[str] = None, key_prefix: Optional[str] = None,
                 window: Optional[int] = None, **kwargs: Any) -> None:
        """`host`: a Redis URL (endpoints.yml's `url`), empty for REDIS_URL, or Rasa's host name + port/db/... keys.
        `window`: events a long session's turn reads at least (TRACKER_WINDOW)."""
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
        self.window = int(window) if window else env_int("TRACKER_WINDOW", DEFAULT_WINDOW, minimum=8)
        self.reach = REACH * self.window

    # --- reading ----------------------------------------------------------------------------------------

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The current session: its head, the state at its mark and the events since, once it is long."""
        return self._load(sender_id)

    async def retrieve_full_tracker(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """Every event of every session (Rasa's HTTP API: transcripts, the widget's history)."""
        keys = conversation_keys(sender_id, self.prefix)
        if self.red.type(keys.tracker) == "string":
            self._convert(sender_id)
        raw = self.red.lrange(keys.tracker, 0, -1)
        if not raw:
            return None
        tracker = self._tracker(sender_id, _parse(raw))
        setattr(tracker, _LOADED, Loaded(len(raw), len(raw), 0, *_session_fields(tracker.events, 0)))
        return tracker

    async def _retrieve(self, sender_id: str, fetch_all_sessions: bool) -> Optional[DialogueStateTracker]:
        return await (self.retrieve_full_tracker(sender_id) if fetch_all_sessions else self.retrieve(sender_id))

    def _load(self, sender_id: str) -> Optional[DialogueStateTracker]:
        keys = conversation_keys(sender_id, self.prefix)
        result = self.load_script(keys=[keys.tracker, keys.session])
        kind = result[0]
        if kind == "string":
            self._convert(sender_id)
            return self._load(sender_id)
        if kind != "list" or int(result[1]) == 0:
            return None
        length, start, head, mark, state, heads = (int(result[1]), int(result[2]), int(result[3]),
                                                   int(result[4]), result[5], int(result[6]))
        if heads >= 0:  # a long session: its head, the state at the mark, the events from the mark on
            events = _parse(result[7:7 + heads]) + _state_events(state)
            tail = len(events)
            events += _parse(result[7 + heads:])
        else:
            events, tail = _parse(result[7:]), 0
            if head < 0:  # no user message yet, or stored by an earlier version: find the head here
                head = _first_user(events, 0, start)
        tracker = self._tracker(sender_id, events)
        setattr(tracker, _LOADED, Loaded(length, len(events), tail, start, head, mark, state))
        setattr(tracker, _STORE, self)
        return tracker

    def session_events(self, tracker: DialogueStateTracker) -> Optional[List[Dict[str, Any]]]:
        """Every event of the tracker's current session as Rasa sends them to the action server: the stored
        ones and this turn's unsaved ones; None when the tracker already holds them all."""
        loaded: Optional[Loaded] = getattr(tracker, _LOADED, None)
        if loaded is None or loaded.tail == 0:
            return None
        raw = self.red.lrange(conversation_keys(tracker.sender_id, self.prefix).tracker, loaded.start,
                              loaded.length - 1)
        return [json.loads(item) for item in raw] + [e.as_dict() for e in list(tracker.events)[loaded.count:]]

    def _tracker(self, sender_id: str, events: List[Event]) -> DialogueStateTracker:
        tracker = self.init_tracker(sender_id)
        tracker.update_with_events(events, self.domain, override_timestamp=False)
        return tracker

    def _convert(self, sender_id: str) -> None:
        """A conversation stored whole by the previous version becomes an event list (its TTL kept)."""
        keys = conversation_keys(sender_id, self.prefix)
        stored = self.red.get(keys.tracker)
        if stored is None:
            return
        old = self.deserialise_tracker(sender_id, stored)
        events = list(old.events) if old is not None else []
        start, head, mark, state = _session_fields(events, 0)
        ttl = self.red.pttl(keys.tracker)
        pipe = self.red.pipeline()
        pipe.delete(keys.tracker)
        if events:
            pipe.rpush(keys.tracker, *[_dump(e) for e in events])
        pipe.hset(keys.session, mapping={"start": start, "head": head, "mark": mark, "state": state})
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
        loaded: Optional[Loaded] = getattr(tracker, _LOADED, None)
        events = list(tracker.events)
        if loaded is None:  # not read through this store (a new conversation, a replaced history): write it all
            expected, new = -1, events
            loaded = Loaded(0, 0, 0, *_session_fields(events, 0))
        else:
            expected, new = loaded.length, events[loaded.count:]
            loaded = _advance(loaded, events)
        start, head, mark, state = self._marked(tracker, events, loaded)
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
                head,
                mark,
                state,
                *[_dump(e) for e in new],
            ],
        )
        if length == 0:
            raise LockLost("the conversation lock for this turn lapsed; the save was refused")
        if length == -1:
            raise LockLost("the conversation changed while this turn ran; the save was refused")
        # Saved again later in the same turn: append on, from what is stored now.
        setattr(tracker, _LOADED, replace(loaded, length=int(length) - 1, count=len(events), start=start, head=head,
                                          mark=mark, state=state))

    def _marked(self, tracker: DialogueStateTracker, events: List[Event], loaded: Loaded) -> Tuple[int, int, int, str]:
        """The session fields to store, with the mark moved on once the events a turn reads have grown past
        twice the window: to the latest user message at least `window` events back that keeps a form's turns
        and the memoization policy's last turns in what is read, when that is within `reach` events, else to
        the latest user message at least `window` events back."""
        offset = loaded.length - loaded.count  # history index - tracker position, from the tail on
        read_from = loaded.mark if loaded.head >= loaded.start and loaded.mark > loaded.head else loaded.start
        unchanged = loaded.start, loaded.head, loaded.mark, loaded.state
        if loaded.head < 0 or len(events) + offset - read_from <= 2 * self.window:
            return unchanged
        first = max(loaded.tail, loaded.head - offset + 1)  # tracker positions after the head, in the history
        last = len(events) - self.window
        loop: Optional[str] = None
        turn_start = 0
        kept: List[int] = []  # where the memoization policy's last turns start
        free: List[int] = []  # user messages no form was active at
        latest: Optional[int] = None
        for position, event in enumerate(events):
            if isinstance(event, UserUttered):
                turn_start = position
                if first <= position <= last:
                    latest = position
                    if loop is None:
                        free.append(position)
            elif isinstance(event, ActiveLoop):
                loop = event.name
            elif isinstance(event, ActionExecuted) and not event.hide_rule_turn and position >= first:
                if turn_start not in kept:
                    kept = (kept + [turn_start])[-MEMORY_TURNS:]
        limit = kept[0] if kept else len(events)
        best = max((p for p in free if p <= limit), default=None)
        chosen = best if best is not None and len(events) - best <= self.reach else latest
        if chosen is None or chosen + offset <= read_from:
            return unchanged
        replay = self.init_tracker(tracker.sender_id)
        replay.update_with_events(events[:chosen], self.domain, override_timestamp=False)
        return loaded.start, loaded.head, chosen + offset, _state(replay)

    def turn_stored(self, sender_id: str, message_id: str) -> bool:
        return self.red.zscore(conversation_keys(sender_id, self.prefix).turns, message_id) is not None


def _whole_session_for_transcripts() -> None:
    """The actions that attach a transcript to a lead receive every event of the session, not the window.
    Rasa runs each action on a copy of the turn's tracker (the same events): the copy keeps where they came from."""
    from rasa.core.actions.action import RemoteAction

    if getattr(RemoteAction, "_gzcp_whole_session", False):
        return
    format_call = RemoteAction._action_call_format
    copy = DialogueStateTracker.copy

    def _action_call_format(self: Any, tracker: DialogueStateTracker, domain: Any) -> Dict[str, Any]:
        result = format_call(self, tracker, domain)
        store = getattr(tracker, _STORE, None)
        if self.name() in WHOLE_SESSION_ACTIONS and store is not None:
            events = store.session_events(tracker)
            if events is not None:
                result["tracker"]["events"] = events
        return result

    def copy_with_origin(self: DialogueStateTracker) -> DialogueStateTracker:
        duplicate = copy(self)
        for name in (_LOADED, _STORE):
            if hasattr(self, name):
                setattr(duplicate, name, getattr(self, name))
        return duplicate

    RemoteAction._action_call_format = _action_call_format
    DialogueStateTracker.copy = copy_with_origin
    RemoteAction._gzcp_whole_session = True


_whole_session_for_transcripts()


def _parse(raw: Sequence[str]) -> List[Event]:
    return [e for e in (Event.from_parameters(json.loads(item)) for item in raw) if e is not None]


def _dump(event: Event) -> str:
    return json.dumps(event.as_dict())


def _advance(loaded: Loaded, events: List[Event]) -> Loaded:
    """The session fields after this turn's new events (a new session starts over; a first user message is
    the session's head)."""
    new = events[loaded.count:]
    base = loaded.length  # history index of new[0]
    start = _session_start(new, base, -1)
    if start >= 0:
        return replace(loaded, start=start, head=_first_user(new, start - base, base), mark=-1, state="")
    if loaded.head < 0:
        return replace(loaded, head=_first_user(new, 0, base))
    return loaded


def _session_fields(events: Sequence[Event], base: int) -> Tuple[int, int, int, str]:
    """(start, head, mark, state) of a history written whole: no mark yet (the next save puts one)."""
    start = _session_start(events, base, base)
    return start, _first_user(events, start - base, base), -1, ""


def _first_user(events: Sequence[Event], at: int, base: int) -> int:
    """History index of the first user message among `events` from position `at` on, -1 when none."""
    for position in range(max(at, 0), len(events)):
        if isinstance(events[position], UserUttered):
            return base + position
    return -1


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


def _state(tracker: DialogueStateTracker) -> str:
    """The slots that differ from their initial value, and the form, as JSON."""
    slots = {name: slot.value for name, slot in tracker.slots.items() if slot.value != slot.initial_value}
    loop = tracker.active_loop
    return json.dumps({"slots": slots, "loop": loop.name if loop else None,
                       "interrupted": bool(loop and loop.is_interrupted)})


def _state_events(state: str) -> List[Event]:
    try:
        data: Dict[str, Any] = json.loads(state or "{}")
    except ValueError:
        return []
    events: List[Event] = [SlotSet(name, value) for name, value in (data.get("slots") or {}).items()]
    if data.get("loop"):
        events.append(ActiveLoop(data["loop"]))
        if data.get("interrupted"):
            events.append(LoopInterrupted(True))
    return events


def _last_message_id(tracker: DialogueStateTracker) -> Optional[str]:
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return event.message_id
    return None
