"""The delivery worker's counts (a process of its own): results and retries into the shared metrics hash.

They go to the hash under the outbox's own key prefix, on the outbox's Redis client, so a worker on a
test prefix counts there too.
"""

from __future__ import annotations

from bot.shared.metrics import DELIVERY_RESULTS, DELIVERY_RETRIES, record
from bot.shared.outbox import Job, Outbox


def _prefix(outbox: Outbox) -> str:
    return outbox.base.rsplit(":", 1)[0]  # "<prefix>:outbox" -> "<prefix>"


def finished(outbox: Outbox, job: Job, result: str) -> None:
    """delivered, replayed, refused, dropped, erased or failed (dead-lettered after repeated worker errors)."""
    record(outbox.redis, DELIVERY_RESULTS.increment(kind=job.kind, result=result), _prefix(outbox))


def unreadable(outbox: Outbox) -> None:
    """A job the worker could not read, dead-lettered (its kind is not known: counted as "other")."""
    record(outbox.redis, DELIVERY_RESULTS.increment(kind="other", result="unreadable"), _prefix(outbox))


def retry_reason(error: str) -> str:
    """The kind of failure, from the worker's own wording of it (see Delivery.handle/_deliver/_erase)."""
    if error.startswith("bad answer"):
        return "bad_answer"
    if error.startswith("worker error"):
        return "worker_error"
    if error.startswith("HTTP 5"):
        return "http_5xx"
    if error.startswith("HTTP "):
        return "http_4xx"
    if "unreachable" in error:
        return "unreachable"
    return "busy"


def retried(outbox: Outbox, job: Job, error: str) -> None:
    record(outbox.redis, DELIVERY_RETRIES.increment(kind=job.kind, reason=retry_reason(error)), _prefix(outbox))
