"""Counters and histograms that several processes add to, kept in one Redis hash (`gzcp:metrics`).

The web app, the Telegram bridge, the action server (Python 3.10) and the delivery worker each run in
a process of their own, and the web app may run several uvicorn workers: an in-process
prometheus_client counter would only ever see one of them. So these metrics are HINCRBY'd into one hash
under the project's key prefix, and the web app's /metrics exports the hash (bot.metrics.exporter).

Plain Python on redis-py (no prometheus_client: the action server's environment does not have it).
Recording never raises: a metric lost to a Redis hiccup must not cost a user an answer or a lead.

Every label value comes from a fixed list (anything else is recorded as "other"), so an email, a phone
number or a message text can never become a label, and the number of series stays small.

Hash fields: `<name>|<label>=<value>,...` for a counter; for a histogram `<name>_bucket|...,le=<bound>`
(counts per bucket, not cumulative: the exporter adds them up; the +Inf total is the count) and `<name>_sum|...`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

import redis

from bot.shared import channels
from bot.shared.intake import JOB_KINDS
from bot.shared.redis_conn import KEY_PREFIX

logger = logging.getLogger(__name__)

OTHER = "other"
Update = Tuple[str, float]  # (hash field, amount)


@dataclass(frozen=True)
class SharedMetric:
    name: str  # full Prometheus name, `gzcp_` first; counters end in `_total`
    help: str
    labels: Dict[str, Tuple[str, ...]]  # label -> the values it may take (others become "other")
    buckets: Tuple[float, ...] = ()  # a histogram's upper bounds (+Inf is implied); empty for a counter
    kind: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", "histogram" if self.buckets else "counter")

    def label_values(self, given: Dict[str, Any]) -> Tuple[str, ...]:
        """The values for each label, in the declared order; unknown values become "other"."""
        if set(given) != set(self.labels):
            raise ValueError(f"{self.name} takes labels {sorted(self.labels)}, got {sorted(given)}")
        return tuple(str(given[k]) if str(given[k]) in allowed else OTHER for k, allowed in self.labels.items())

    def _series(self, values: Tuple[str, ...]) -> str:
        return ",".join(f"{k}={v}" for k, v in zip(self.labels, values, strict=True))

    def increment(self, amount: int = 1, **labels: Any) -> List[Update]:
        """The hash updates that count `amount` for a counter."""
        return [(f"{self.name}|{self._series(self.label_values(labels))}", amount)]

    def observation(self, value: float, **labels: Any) -> List[Update]:
        """The hash updates that record one observation of `value` for a histogram."""
        series = self._series(self.label_values(labels))
        bound = next((b for b in self.buckets if value <= b), None)
        le = "+Inf" if bound is None else _bound(bound)
        return [(f"{self.name}_bucket|{series},le={le}", 1), (f"{self.name}_sum|{series}", float(value))]

    def combinations(self) -> Iterator[Tuple[str, ...]]:
        """Every declared combination of label values (for series that should show as 0 before any event)."""
        combos: List[Tuple[str, ...]] = [()]
        for allowed in self.labels.values():
            combos = [c + (v,) for c in combos for v in allowed]
        return iter(combos)


def _bound(value: float) -> str:
    return repr(float(value))


# --- the definitions -----------------------------------------------------------------------------------

CHANNELS = channels.NAMES  # every registered channel
KINDS = JOB_KINDS

CHAT_MESSAGES = SharedMetric(
    "gzcp_chat_messages_total",
    "Messages users sent through a channel, by how they ended: answered by the assistant, rejected "
    "(a 4xx: bad input, too long, rate-limited, foreign origin), Rasa unavailable (503), or error.",
    {"channel": CHANNELS, "outcome": ("answered", "rejected", "unavailable", "error")},
)
CHAT_RASA_LATENCY = SharedMetric(
    "gzcp_chat_rasa_latency_seconds",
    "Time a channel waited for Rasa for one message (the whole turn, retries included), answered or not.",
    {"channel": CHANNELS},
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0),
)
FALLBACKS = SharedMetric(
    "gzcp_chat_fallbacks_total",
    "Questions the assistant could not answer (recorded by the actions): a topic it must not guess "
    "(unknown_topic) or input it did not understand (fallback).",
    {"reason": ("unknown_topic", "fallback"), "language": ("en", "zh")},
)
DELIVERY_RESULTS = SharedMetric(
    "gzcp_delivery_results_total",
    "Outbox jobs the delivery worker finished: delivered (201), replayed (200: the intake already had it), "
    "refused (kept in the dead-letter set), dropped (its conversation was erased first), erased (an erasure done), "
    "unreadable (not a job this worker can read, kind other) and failed (the worker failed on it repeatedly): "
    "both dead-lettered with the reason.",
    {"kind": KINDS, "result": ("delivered", "replayed", "refused", "dropped", "erased", "unreadable", "failed")},
)
DELIVERY_RETRIES = SharedMetric(
    "gzcp_delivery_retries_total",
    "Delivery attempts that will be tried again later: intake unreachable, a 5xx, a retryable 4xx "
    "(401/403/404/408/409/425/429), the conversation still in use by Rasa (busy), a 2xx answer that is not the "
    "intake's JSON (bad_answer), or an unexpected error of the worker on that job (worker_error).",
    {"kind": KINDS, "reason": ("unreachable", "http_5xx", "http_4xx", "busy", "bad_answer", "worker_error")},
)

SHARED_METRICS: Tuple[SharedMetric, ...] = (CHAT_MESSAGES, CHAT_RASA_LATENCY, FALLBACKS, DELIVERY_RESULTS, DELIVERY_RETRIES)


# --- writing -----------------------------------------------------------------------------------------


def metrics_key(prefix: str = KEY_PREFIX) -> str:
    return f"{prefix}:metrics"


def add_to_pipeline(pipe: Any, updates: List[Update], prefix: str = KEY_PREFIX) -> None:
    """Queue the updates on a pipeline (sync or asyncio redis-py) that the caller executes."""
    key = metrics_key(prefix)
    for name, amount in updates:
        if isinstance(amount, float):  # a histogram's _sum; counts are ints (HINCRBY refuses a float field)
            pipe.hincrbyfloat(key, name, amount)
        else:
            pipe.hincrby(key, name, int(amount))


def record(client: Optional[redis.Redis], updates: List[Update], prefix: str = KEY_PREFIX) -> bool:
    """Apply the updates now (sync redis-py); a Redis failure is logged, never raised. False when not written."""
    if not updates:
        return True
    if client is None:
        return False
    try:
        pipe = client.pipeline(transaction=False)
        add_to_pipeline(pipe, updates, prefix)
        pipe.execute()
    except redis.RedisError as error:
        _warn(error)
        return False
    return True


async def record_async(client: Any, updates: List[Update], prefix: str = KEY_PREFIX) -> bool:
    """Apply the updates now (redis.asyncio); a Redis failure is logged, never raised. False when not written."""
    if not updates:
        return True
    if client is None:
        return False
    try:
        async with client.pipeline(transaction=False) as pipe:
            add_to_pipeline(pipe, updates, prefix)
            await pipe.execute()
    except redis.RedisError as error:
        _warn(error)
        return False
    return True


class Pending:
    """Updates this process has counted and not yet written, summed per hash field. The chat gateway adds each
    message's counts here and writes them with the next message's one Redis round trip (bot.chat.store
    RateLimiter.gate), or a second later when no message follows (bot.metrics.chat); a scrape writes them
    first (bot.metrics.exporter). Thread-safe: the exporter runs in a worker thread."""

    def __init__(self) -> None:
        self._sums: Dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, updates: List[Update]) -> None:
        with self._lock:
            for name, amount in updates:
                self._sums[name] = self._sums.get(name, 0) + amount

    def take(self) -> List[Update]:
        """Everything pending, now the caller's to write (or to add back when that failed)."""
        with self._lock:
            sums, self._sums = self._sums, {}
        return list(sums.items())

    def write(self, client: Optional[redis.Redis], prefix: str = KEY_PREFIX) -> None:
        """Write everything pending now (sync redis-py); kept for the next try when Redis fails."""
        updates = self.take()
        if not record(client, updates, prefix):
            self.add(updates)

    async def write_async(self, client: Any, prefix: str = KEY_PREFIX) -> None:
        """Write everything pending now (redis.asyncio); kept for the next try when Redis fails."""
        updates = self.take()
        if not await record_async(client, updates, prefix):
            self.add(updates)


PENDING = Pending()  # this process's


_last_warning = 0.0


def _warn(error: Exception) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning > 60:  # at most once a minute: a dead Redis is reported loudly elsewhere
        _last_warning = now
        logger.warning("metrics not recorded (Redis: %s)", type(error).__name__)


# --- reading (the exporter) ----------------------------------------------------------------------------


def read(client: redis.Redis, prefix: str = KEY_PREFIX) -> Dict[str, float]:
    """The whole hash as {field: value}. Raises RedisError (the exporter reports Redis as down)."""
    raw = client.hgetall(metrics_key(prefix))
    out: Dict[str, float] = {}
    for name, value in raw.items():
        name = name.decode() if isinstance(name, bytes) else name
        try:
            out[name] = float(value)
        except (TypeError, ValueError):
            continue
    return out


def parse_field(name: str) -> Tuple[str, Dict[str, str]]:
    """`gzcp_x_total|a=1,b=2` -> ("gzcp_x_total", {"a": "1", "b": "2"})."""
    metric, _, series = name.partition("|")
    labels = dict(pair.split("=", 1) for pair in series.split(",") if "=" in pair)
    return metric, labels
