"""The lead outbox in Redis: the action server hands leads, hand-offs and erasure requests here and the
delivery worker (bot/leads/delivery.py) takes them to the intake API, retrying until they are stored.

Plain Python on redis-py: the action server (Python 3.10) writes, the worker (3.11) reads.

Keys (prefix `gzcp:outbox:`): `jobs` (hash id -> job JSON), `due` (sorted set id -> when to try next),
`dead` (hash of jobs the intake refused for good: kept and shown, never dropped), `conv:<id>` (set of a
conversation's job ids, for erasure), `erased:<id>` (when a conversation was erased), `wake` (a nudge for
the worker) and `result:<id>` (an erasure's outcome, for the action that waits on it).

A job's id is its idempotency key, so handing the same lead in twice queues it once, and the worker sends
every retry with that key: the intake stores it once however often it arrives. Claiming moves a job's due
time one lease ahead, so a worker that dies mid-delivery leaves the job to be tried again, never lost.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

import redis

from bot.shared.intake import JOB_KINDS
from bot.shared.redis_conn import KEY_PREFIX

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
# workers never hold the same job at once.
_CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local job = redis.call('HGET', KEYS[2], id)
  if job then
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    table.insert(out, job)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
"""
# Drop a conversation's queued leads and hand-offs (live and dead), keep its erase jobs, mark it erased.
_CANCEL = """
local dropped = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local job = redis.call('HGET', KEYS[2], id)
  if job and cjson.decode(job)['kind'] ~= 'erase' then
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


@dataclass
class Job:
    id: str
    kind: str
    conversation_id: str
    body: Optional[Dict[str, Any]] = None
    created_at: float = field(default_factory=time.time)
    attempts: int = 0
    last_error: str = ""
    next_attempt_at: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Job:
        return cls(**json.loads(text))


class Outbox:
    def __init__(self, client: redis.Redis, prefix: str = KEY_PREFIX) -> None:
        self.redis = client
        self.base = f"{prefix}:outbox"
        self._enqueue = client.register_script(_ENQUEUE)
        self._claim = client.register_script(_CLAIM)
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
    def claim(self, limit: int = 10, lease_seconds: float = 60.0) -> List[Job]:
        now = time.time()
        return [Job.from_json(raw) for raw in self._claim(keys=[self.key("due"), self.key("jobs")],
                                                          args=[now, limit, now + lease_seconds])]

    def heartbeat(self, worker: str, ttl_seconds: int = 30) -> None:
        """A delivery worker says it is alive (the web app's /readyz reports workers from these)."""
        self.redis.set(self.key("worker", worker), str(time.time()), ex=ttl_seconds)

    def workers(self) -> Dict[str, float]:
        """Live workers and when each last said so (epoch seconds)."""
        found = {}
        for key in self.redis.scan_iter(match=self.key("worker", "*"), count=100):
            value = self.redis.get(key)
            if value:
                found[key.rsplit(":", 1)[-1]] = float(value)
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

    def revive(self, job_id: str) -> bool:
        """Put a dead job back in the queue (after the cause is fixed)."""
        raw = self.redis.hget(self.key("dead"), job_id)
        if raw is None:
            return False
        job = Job.from_json(raw)
        job.last_error = ""
        pipe = self.redis.pipeline()
        pipe.hset(self.key("jobs"), job.id, job.to_json())
        pipe.zadd(self.key("due"), {job.id: time.time()})
        pipe.hdel(self.key("dead"), job.id)
        pipe.lpush(self.key("wake"), "1")
        pipe.execute()
        return True

    def erased_at(self, conversation_id: str) -> Optional[float]:
        value = self.redis.get(self.key("erased", conversation_id))
        return float(value) if value is not None else None

    # --- for people --------------------------------------------------------------------------------
    def pending(self) -> List[Job]:
        return sorted((Job.from_json(v) for v in self.redis.hvals(self.key("jobs"))), key=lambda j: j.created_at)

    def dead(self) -> List[Job]:
        return sorted((Job.from_json(v) for v in self.redis.hvals(self.key("dead"))), key=lambda j: j.created_at)

    def stats(self) -> Dict[str, Any]:
        pending = self.pending()
        now = time.time()
        return {
            "pending": len(pending),
            "retrying": sum(1 for j in pending if j.attempts > 0),
            "dead": int(self.redis.hlen(self.key("dead"))),
            "oldest_pending_seconds": round(now - pending[0].created_at, 1) if pending else 0.0,
        }
