"""New leads to the staff console (Redis pub/sub, read by the console's server-sent events) and to the staff
Telegram chat. Called by the intake after it stored a lead; never blocks it nor fails it: the work runs on a
small thread pool, a group of leads at a time, and every error is logged, without contact details, and swallowed."""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional

import redis

from bot.settings import settings
from bot.shared.redis_conn import KEY_PREFIX, shared_client, url_db

logger = logging.getLogger(__name__)



def channel() -> str:
    # Pub/sub ignores the Redis DB number: name the DB so tests (REDIS_DB=14) never reach a running console.
    return f"{KEY_PREFIX}:staff:leads:{url_db(settings().redis_connection_url)}"

_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="staff-events")


def summary(lead: Any) -> Dict[str, Any]:
    """What the console needs to know that something arrived; no contact details (they stay in the database)."""
    return {
        "id": lead.id, "kind": lead.kind, "status": lead.status, "category": lead.category,
        "qualified": lead.qualified, "score": lead.score, "language": lead.language, "channel": lead.channel,
        "created_at": lead.created_at.isoformat() if lead.created_at else None,
    }


def publish_all(items: List[Dict[str, Any]], client: Optional[redis.Redis] = None) -> None:
    """One round trip for all (a pipeline, no transaction): the intake stores leads in groups (bot.leads.writer)."""
    # Short timeouts: a stalled Redis holds up only the announcements, never for long.
    client = client or shared_client(settings().redis_connection_url, 1.0, 1.0)
    name, pipe = channel(), client.pipeline(transaction=False)
    for data in items:
        pipe.publish(name, json.dumps(data))
    pipe.execute()


# Leads announced since the last delivery ran; one delivery task at a time takes them all, so a group of leads
# costs one hand-off to the pool and one Redis round trip, not one each.
_waiting: List[Dict[str, Any]] = []
_waiting_lock = threading.Lock()
_scheduled = False


def _deliver_waiting() -> None:
    global _scheduled
    with _waiting_lock:
        items = _waiting[:]
        _waiting.clear()
        _scheduled = False
    try:
        publish_all(items)
    except Exception as error:  # noqa: BLE001  (Redis down: the console just needs a reload)
        for data in items:
            logger.warning("could not publish new %s %s to the staff console: %s", data["kind"], data["id"],
                           type(error).__name__)
    for data in items:
        if data["kind"] == "lead" and data["qualified"]:
            from bot.staff.alerts import send_qualified_alert  # imported here: python-telegram-bot loads only when used

            send_qualified_alert(data)


def publish_new_lead(lead: Any) -> None:
    """Announce a newly stored lead or hand-off in the background (on `_pool`: tests wait on it)."""
    global _scheduled
    if settings().staff_events == "off":
        return
    with _waiting_lock:
        _waiting.append(summary(lead))
        if _scheduled:  # the task already waiting on the pool takes this one too
            return
        _scheduled = True
    try:
        _pool.submit(_deliver_waiting)
    except Exception as error:  # noqa: BLE001  (e.g. the pool is shut down at exit)
        with _waiting_lock:
            _scheduled = False  # the next lead schedules it again, this one with it
        logger.warning("staff notification not scheduled: %s", type(error).__name__)
