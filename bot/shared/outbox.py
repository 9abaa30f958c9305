"""The lead outbox in Redis: the action server hands leads, hand-offs and erasure requests here and the
delivery worker (bot/leads/delivery.py) takes them to the intake API, retrying until they are stored.

Plain Python on redis-py: the action server (Python 3.10) writes, the worker (3.11) reads.

Keys (prefix `gzcp:outbox:`): `jobs` (hash id -> job JSON), `due` (sorted set id -> when to try next),
`dead` (hash of jobs the intake refused for good or no one could read: kept and shown until the retention
period ends, see bot/retention), `dead_seen` (when a purge first saw a dead entry with no readable date),
`conv:<id>` (set of a conversation's job ids, for erasure), `erased:<id>` (when a conversation was erased),
`wake` (a nudge for the worker) and `result:<id>` (an erasure's outcome, for the action that waits on it).

A job's id is its idempotency key, so handing the same lead in twice queues it once, and the worker sends
every retry with that key: the intake stores it once however often it arrives. Claiming moves a job's due
time one lease ahead, so a worker that dies mid-delivery leaves the job to be tried again, never lost.

Stored jobs are read without trusting them (bot/shared/outbox_jobs.py): values come back as bytes and are
parsed here, so one job that is not UTF-8, not JSON or not a job never stops a claim, a listing or the figures
that /metrics and /readyz show. A job that cannot be read is handed to the worker as `Unreadable`, which puts
it in `dead` with the reason and its original text.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

import redis
from redis.client import NEVER_DECODE

from bot.shared.intake import JOB_KINDS
from bot.shared.outbox_jobs import BadJob, Job, original, unreadable_entry
from bot.shared.redis_conn import KEY_PREFIX

__all__ = ["KINDS", "BadJob", "Job", "Outbox", "Unreadable"]

KINDS = JOB_KINDS  # leads and hand-offs for the intake, and erasure requests
ERASED_TTL_SECONDS = 90 * 86400  # long enough for any retry still in flight to see the erasure
RESULT_TTL_SECONDS = 300

_ENQUEUE = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('LPUSH', KEYS[4], '1')
redis.call('LTRIM', KEYS[4], 0, 0)
return 1
"""
# Take up to ARGV[2] jobs due by ARGV[1] and push their due time to ARGV[3] (the lease), atomically, so two
# workers never hold the same job at once. Returns id, job, id, job, ...
_CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local job = redis.call('HGET', KEYS[2], id)
  if job then
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    table.insert(out, id)
    table.insert(out, job)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
"""
# Drop a conversation's queued leads and hand-offs (live and dead), keep its erase jobs, mark it erased.
# A job that is not a JSON object is dropped too (pcall: one bad job must not stop an erasure).
_CANCEL = """
local dropped = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local job = redis.call('HGET', KEYS[2], id)
  local ok, decoded = false, nil
  if job then ok, decoded = pcall(cjson.decode, job) end
  if job and not (ok and type(decoded) == 'table' and decoded['kind'] == 'erase') then
    redis.call('HDEL', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
    redis.call('SREM', KEYS[1], id)
    dropped = dropped + 1
  elseif not job then
    if redis.call('HDEL', KEYS[4], id) == 1 then dropped = dropped + 1 end
    redis.call('SREM', KEYS[1], id)
  end
end
redis.call('SET', KEYS[5], ARGV[1], 'EX', tonumber(ARGV[2]))
return dropped
"""


@dataclass(frozen=True)
class Unreadable:
    """A claimed job that could not be read (BadJob): the worker dead-letters it with `reason`."""

    id: str
    raw: bytes
    reason: str
    stored_id: Union[str, bytes] = ""  # the hash field as stored (bytes when it is not UTF-8), for deleting it

    @property
    def key(self) -> Union[str, bytes]:
        return self.stored_id or self.id


Claimed = Union[Job, Unreadable]


class Outbox:
    def __init__(self, client: redis.Redis, prefix: str = KEY_PREFIX) -> None:
        self.redis = client
        self.base = f"{prefix}:outbox"
        self._enqueue = client.register_script(_ENQUEUE)
        self._cancel = client.register_script(_CANCEL)

    def key(self, *parts: str) -> str:
        return ":".join((self.base,) + parts)

    # --- the action server's side ----------------------------------------------------------------
    def put(self, kind: str, conversation_id: str, body: Optional[Dict[str, Any]] = None,
            job_id: Optional[str] = None) -> Job:
        """Queue a job (a second put with the same id is a no-op) and nudge the worker. Raises on a dead Redis."""
        if kind not in KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        job = Job(id=job_id or f"{kind}-{uuid.uuid4()}", kind=kind, conversation_id=conversation_id, body=body)
        job.next_attempt_at = job.created_at
        keys = [self.key("jobs"), self.key("due"), self.key("conv", conversation_id), self.key("wake")]
        self._enqueue(keys=keys, args=[job.id, job.to_json(), job.created_at])
        return job

    def erase(self, conversation_id: str) -> Job:
        """Drop the conversation's undelivered jobs at once, then queue the erasure of what was delivered."""
        self._cancel(
            keys=[self.key("conv", conversation_id), self.key("jobs"), self.key("due"), self.key("dead"),
                  self.key("erased", conversation_id)],
            args=[time.time(), ERASED_TTL_SECONDS],
        )
        return self.put("erase", conversation_id)

    def wait_result(self, job_id: str, timeout: float) -> Optional[Dict[str, Any]]:
        """An erasure's outcome once the worker has it, or None after `timeout` seconds."""
        item = self.redis.blpop([self.key("result", job_id)], timeout=max(1, int(timeout)))
        return json.loads(item[1]) if item else None

    # --- the worker's side -----------------------------------------------------------------------
    def claim(self, limit: int = 10, lease_seconds: float = 60.0) -> List[Claimed]:
        """Up to `limit` due jobs, each leased to this worker; one that cannot be read comes as Unreadable."""
        now = time.time()
        flat = self.redis.execute_command("EVAL", _CLAIM, 2, self.key("due"), self.key("jobs"),
                                          now, limit, now + lease_seconds, **{NEVER_DECODE: True})
        out: List[Claimed] = []
        for raw_id, raw in zip(flat[0::2], flat[1::2], strict=True):
            job_id = _text(raw_id)
            try:
                out.append(Job.from_json(raw, job_id))
            except BadJob as error:
                out.append(Unreadable(job_id, raw, str(error), raw_id))
        return out

    def heartbeat(self, worker: str, ttl_seconds: int = 30) -> None:
        """A delivery worker says it is alive (the web app's /readyz reports workers from these)."""
        self.redis.set(self.key("worker", worker), str(time.time()), ex=ttl_seconds)

    def workers(self) -> Dict[str, float]:
        """Live workers and when each last said so (epoch seconds)."""
        found = {}
        for key in self.redis.scan_iter(match=self.key("worker", "*"), count=100):
            value = self.redis.get(key)
            try:
                found[key.rsplit(":", 1)[-1]] = float(value or "")
            except ValueError:
                continue  # not a heartbeat this code wrote: no worker to report
        return found

    def wait_for_work(self, timeout: float) -> None:
        self.redis.blpop([self.key("wake")], timeout=max(1, int(timeout)))

    def done(self, job: Job, result: Optional[Dict[str, Any]] = None) -> None:
        pipe = self.redis.pipeline()
        pipe.hdel(self.key("jobs"), job.id)
        pipe.zrem(self.key("due"), job.id)
        pipe.srem(self.key("conv", job.conversation_id), job.id)
        if result is not None:
            self._report(pipe, job.id, result)
        pipe.execute()

    def report(self, job_id: str, result: Dict[str, Any]) -> None:
        """Hand a job's outcome to whoever waits on it (wait_result) before the job itself is done."""
        pipe = self.redis.pipeline()
        self._report(pipe, job_id, result)
        pipe.execute()

    def _report(self, pipe: Any, job_id: str, result: Dict[str, Any]) -> None:
        pipe.rpush(self.key("result", job_id), json.dumps(result))
        pipe.expire(self.key("result", job_id), RESULT_TTL_SECONDS)

    def retry(self, job: Job, error: str, delay: float) -> None:
        """Try again after `delay` seconds; the job stays in `jobs` the whole time."""
        job.attempts += 1
        job.last_error = error[:500]
        job.next_attempt_at = time.time() + delay
        pipe = self.redis.pipeline()
        pipe.hset(self.key("jobs"), job.id, job.to_json())
        pipe.zadd(self.key("due"), {job.id: job.next_attempt_at})
        pipe.execute()

    def bury(self, job: Job, error: str) -> None:
        """The intake refused the job for good (e.g. 422): keep it in `dead` for staff, stop retrying."""
        job.attempts += 1
        job.last_error = error[:2000]
        pipe = self.redis.pipeline()
        pipe.hset(self.key("dead"), job.id, job.to_json())
        pipe.hdel(self.key("jobs"), job.id)
        pipe.zrem(self.key("due"), job.id)
        pipe.execute()

    def bury_unreadable(self, item: Unreadable) -> None:
        """Keep a job no one can read in `dead`, with the reason and its original text; stop handing it out."""
        pipe = self.redis.pipeline()
        pipe.hset(self.key("dead"), item.id, unreadable_entry(item.raw, item.id, item.reason))
        pipe.hdel(self.key("jobs"), item.key)
        pipe.zrem(self.key("due"), item.key)
        pipe.execute()

    def revive(self, job_id: str) -> bool:
        """Put a dead job back in the queue (after the cause is fixed); an unreadable one goes back as it came
        (a worker that reads it, e.g. a newer version, delivers it; any other buries it again)."""
        raw = self.redis.execute_command("HGET", self.key("dead"), job_id, **{NEVER_DECODE: True})
        if raw is None:
            return False
        text: Optional[Union[str, bytes]] = original(raw)
        if text is None:
            job = Job.lenient(raw, job_id)
            if job.problem:
                return False  # not a job and not our record of one: nothing to queue
            job.last_error = ""
            text = job.to_json()
        pipe = self.redis.pipeline()
        pipe.hset(self.key("jobs"), job_id, text)
        pipe.zadd(self.key("due"), {job_id: time.time()})
        pipe.hdel(self.key("dead"), job_id)
        pipe.zrem(self.key("dead_seen"), job_id)
        pipe.lpush(self.key("wake"), "1")
        pipe.execute()
        return True

    def erased_at(self, conversation_id: str) -> Optional[float]:
        value = self.redis.get(self.key("erased", conversation_id))
        return float(value) if value is not None else None

    # --- retention (bot/leads/retention.py) ---------------------------------------------------------
    def purge_dead(self, before: float) -> int:
        """Delete dead-letter jobs handed in before `before` (epoch seconds); returns how many went. An entry
        with no readable date is dated the first time a purge sees it, so it too goes one period later."""
        seen_key = self.key("dead_seen")
        now = time.time()
        gone = 0
        for job_id, job in self._read(self.key("dead")):
            when = job.created_at
            if when <= 0:
                self.redis.zadd(seen_key, {job_id: now}, nx=True)
                when = float(self.redis.zscore(seen_key, job_id) or now)
            if when >= before:
                continue
            pipe = self.redis.pipeline()
            pipe.hdel(self.key("dead"), job_id)
            pipe.zrem(seen_key, job_id)
            if job.conversation_id:
                pipe.srem(self.key("conv", job.conversation_id), job_id)
            gone += int(pipe.execute()[0])
        return gone

    # --- for people --------------------------------------------------------------------------------
    def _read(self, key: str) -> List[Tuple[str, Job]]:
        """Every job of a hash, read leniently: a bad one shows with `problem` set, never raises."""
        raw = self.redis.execute_command("HGETALL", key, **{NEVER_DECODE: True}) or {}
        return [(_text(k), Job.lenient(v, _text(k))) for k, v in raw.items()]

    def pending(self) -> List[Job]:
        return sorted((job for _, job in self._read(self.key("jobs"))), key=lambda j: j.created_at)

    def dead(self) -> List[Job]:
        return sorted((job for _, job in self._read(self.key("dead"))), key=lambda j: j.created_at)

    def stats(self) -> Dict[str, Any]:
        """Figures for /metrics, /readyz and people; one bad job changes a count, never the answer."""
        pending = [job for job in self.pending() if job.created_at > 0]
        now = time.time()
        return {
            "pending": int(self.redis.hlen(self.key("jobs"))),
            "retrying": sum(1 for j in pending if j.attempts > 0),
            "dead": int(self.redis.hlen(self.key("dead"))),
            "oldest_pending_seconds": round(max(0.0, now - pending[0].created_at), 1) if pending else 0.0,
        }


def _text(value: Union[str, bytes]) -> str:
    # Ids are written by put() (ASCII); anything else is shown, not trusted.
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
