"""The conversation funnel and the questions the assistant could not answer, recorded in Redis.

The action server records (Python 3.10); the staff dashboard reads (3.11): plain Python, redis-py only.
Each stage counts a conversation once per day (a Redis set per stage and day, the day in STAFF_TIMEZONE like the
staff console's date filters), with a split by language and category, and each counted conversation's language and
category beside it (so the web app can copy the day sets into its database: bot/staff/funnel_store.py, counts that
survive a Redis restart). Leads, "qualified" and "accepted" as staff see them come from the intake database.
Unanswered questions are kept masked (no emails or phone numbers) in a capped list.

No conversation id is stored here in clear: the day sets hold a hash of it, and each unanswered question
carries the same hash, so an erasure (`forget`) finds and removes that conversation's questions, and the
retention job (`purge_unanswered`) drops questions older than the consent notice's period.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from datetime import date, datetime, timedelta
from typing import Dict, Iterable, List, Optional, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import redis

from bot.shared.config import ConfigError, env_str
from bot.shared.logs import mask
from bot.shared.metrics import FALLBACKS, add_to_pipeline
from bot.shared.redis_conn import KEY_PREFIX

STAGES = ("conversation", "screening_started", "screening_completed", "qualified")
KEEP_DAYS = 400
MAX_UNANSWERED = 1000
# Day-set entries this process knows are in Redis; forgotten all at once past this many (memory stays bounded).
KNOWN_LIMIT = 100_000


@functools.lru_cache(maxsize=4)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"STAFF_TIMEZONE={name!r}: not an IANA time zone (e.g. Asia/Shanghai)") from None


def today() -> date:
    """Today where the staff are (STAFF_TIMEZONE, default Asia/Shanghai): the funnel's days are theirs."""
    return datetime.now(_zone(env_str("STAFF_TIMEZONE", "Asia/Shanghai"))).date()


def unanswered_ref(entry: Dict[str, object]) -> str:
    """A stable name for one unanswered question (its time and words), so staff can pick it from the list."""
    return hashlib.sha256(f"{entry.get('at')}|{entry.get('text')}".encode()).hexdigest()[:16]


def conversation_hash(conversation_id: str) -> str:
    """What the funnel keeps instead of a conversation id: enough to count it once and to find it on erasure."""
    return hashlib.sha256(f"funnel:{conversation_id}".encode()).hexdigest()[:24]


# Removes the entries of one conversation (ARGV[1]: its hash) or older than ARGV[2] (seconds since the epoch)
# from the unanswered list in one step, so a question recorded meanwhile is never lost. Returns how many.
_PRUNE = """
local items = redis.call('LRANGE', KEYS[1], 0, -1)
local kept, removed = {}, 0
for _, item in ipairs(items) do
  local ok, entry = pcall(cjson.decode, item)
  local drop = not ok or type(entry) ~= 'table'
  if not drop then
    drop = (ARGV[1] ~= '' and entry['conversation'] == ARGV[1]) or
           (tonumber(ARGV[2]) > 0 and (tonumber(entry['at']) or 0) < tonumber(ARGV[2]))
  end
  if drop then removed = removed + 1 else kept[#kept + 1] = item end
end
if removed > 0 then
  redis.call('DEL', KEYS[1])
  for i = 1, #kept, 1000 do
    redis.call('RPUSH', KEYS[1], unpack(kept, i, math.min(i + 999, #kept)))
  end
end
return removed
"""


class Funnel:
    def __init__(self, client: redis.Redis, prefix: str = KEY_PREFIX) -> None:
        self.redis = client
        self.prefix = prefix
        # Every action records its conversation's stage: once counted today, later calls skip Redis (a blocking
        # round trip, a sixth of the action server's CPU a message; make bench, issue 14).
        self._known: set = set()

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, "funnel") + parts)

    def record(
        self, stage: str, conversation_id: str, *, language: str = "", category: Optional[str] = None, day: Optional[date] = None
    ) -> bool:
        """Count `conversation_id` at `stage` (once per day); returns False when it was already counted."""
        if stage not in STAGES:
            raise ValueError(f"unknown funnel stage {stage!r}; expected one of {', '.join(STAGES)}")
        day_text = (day or today()).isoformat()
        members = self._key(stage, day_text)
        member = conversation_hash(conversation_id)
        if (members, member) in self._known:
            return False
        if len(self._known) >= KNOWN_LIMIT:
            self._known.clear()
        added = self.redis.sadd(members, member)
        self._known.add((members, member))  # after Redis answered: a failed call is tried again next time
        if not added:
            return False
        pipe = self.redis.pipeline()
        pipe.expire(members, KEEP_DAYS * 86400)
        # What the database copy needs to split the counts (bot/staff/funnel_store.py); no id, no text.
        pipe.hset(self._key(stage, day_text, "members"), member,
                  json.dumps({"language": language or "", "category": category or ""}))
        pipe.expire(self._key(stage, day_text, "members"), KEEP_DAYS * 86400)
        for split, value in (("language", language), ("category", category)):
            if value:
                pipe.hincrby(self._key(stage, day_text, split), value, 1)
                pipe.expire(self._key(stage, day_text, split), KEEP_DAYS * 86400)
        pipe.execute()
        return True

    def counts(self, start: Optional[date] = None, end: Optional[date] = None) -> Dict[str, Dict[str, object]]:
        """Per stage: total, by_language and by_category over [start, end] (default: the last 30 days)."""
        end = end or today()
        start = start or end - timedelta(days=29)
        days = [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]
        out: Dict[str, Dict[str, object]] = {}
        for stage in STAGES:
            total = 0
            splits: Dict[str, Dict[str, int]] = {"language": {}, "category": {}}
            for day_text in days:
                total += int(self.redis.scard(self._key(stage, day_text)))
                for split, counts in splits.items():
                    for value, n in self.redis.hgetall(self._key(stage, day_text, split)).items():
                        value = value.decode() if isinstance(value, bytes) else value
                        counts[value] = counts.get(value, 0) + int(n)
            out[stage] = {"total": total, "by_language": splits["language"], "by_category": splits["category"]}
        return out

    def day_members(self, stages: Iterable[str], days: Iterable[date]) -> Dict[Tuple[str, date], Dict[str, Tuple[str, str]]]:
        """Who each stage counted on each day: {(stage, day): {member: (language, category)}} (one round trip).

        A member recorded before the split was kept beside it has ("", "")."""
        keys = [(stage, day) for stage in stages for day in days]
        pipe = self.redis.pipeline()
        for stage, day in keys:
            pipe.smembers(self._key(stage, day.isoformat()))
            pipe.hgetall(self._key(stage, day.isoformat(), "members"))
        replies = pipe.execute()
        out: Dict[Tuple[str, date], Dict[str, Tuple[str, str]]] = {}
        for n, key in enumerate(keys):
            members, meta = replies[2 * n], replies[2 * n + 1]
            found: Dict[str, Tuple[str, str]] = {}
            for raw in members:
                member = raw.decode() if isinstance(raw, bytes) else raw
                info = meta.get(raw) or meta.get(member)
                try:
                    data = json.loads(info) if info else {}
                except ValueError:
                    data = {}
                found[member] = (str(data.get("language") or "")[:8], str(data.get("category") or "")[:64])
            if found:
                out[key] = found
        return out

    def record_unanswered(self, text: str, *, language: str, reason: str, topics: Optional[List[str]] = None,
                          conversation_id: str = "") -> None:
        """Keep a question the assistant could not answer (reason: "unknown_topic" or "fallback"), masked, linked
        to its conversation by hash (so erasing the conversation removes it)."""
        entry = {"text": mask(text)[:500], "language": language, "reason": reason, "topics": topics or [], "at": time.time(),
                 "conversation": conversation_hash(conversation_id) if conversation_id else ""}
        key = self._key("unanswered")
        pipe = self.redis.pipeline()
        pipe.lpush(key, json.dumps(entry, ensure_ascii=False))
        pipe.ltrim(key, 0, MAX_UNANSWERED - 1)
        # The list above is capped; this counter is not: gzcp_chat_fallbacks_total on the web app's /metrics.
        add_to_pipeline(pipe, FALLBACKS.increment(reason=reason, language=language), self.prefix)
        pipe.execute()

    def unanswered(self, limit: int = 100) -> List[Dict[str, object]]:
        """The latest unanswered questions, newest first, each with its `ref` (without the conversation hash: staff
        need the words)."""
        items = [json.loads(item) for item in self.redis.lrange(self._key("unanswered"), 0, max(0, limit - 1))]
        return [{**{k: v for k, v in item.items() if k != "conversation"}, "ref": unanswered_ref(item)} for item in items]

    def find_unanswered(self, ref: str) -> Optional[Dict[str, object]]:
        """The unanswered question named `ref` (see unanswered_ref), or None when it is gone."""
        return next((q for q in self.unanswered(MAX_UNANSWERED) if q["ref"] == ref), None)

    def drop_unanswered(self, ref: str) -> bool:
        """Staff answered it (a fact or an example was added): take it off the list. False when it was not there."""
        key = self._key("unanswered")
        for item in self.redis.lrange(key, 0, MAX_UNANSWERED - 1):
            try:
                entry = json.loads(item)
            except ValueError:
                continue
            if unanswered_ref(entry) == ref:
                return bool(self.redis.lrem(key, 1, item))
        return False

    def forget(self, conversation_id: str) -> int:
        """Erasure: remove this conversation's unanswered questions; returns how many."""
        return int(self.redis.eval(_PRUNE, 1, self._key("unanswered"), conversation_hash(conversation_id), 0))

    def purge_unanswered(self, older_than: float) -> int:
        """Retention: remove unanswered questions recorded before `older_than` (epoch seconds); returns how many."""
        return int(self.redis.eval(_PRUNE, 1, self._key("unanswered"), "", float(older_than)))
