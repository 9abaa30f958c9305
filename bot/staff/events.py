"""New leads to the staff console (Redis pub/sub, read by the console's server-sent events) and to the staff
Telegram chat. Called by the intake after it stored a lead; never blocks it nor fails it: the work runs on a
small thread pool and every error is logged, without contact details, and swallowed."""

from __future__ import annotations

import functools
import json
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Dict, Optional

import redis

from bot.settings import settings
from bot.shared.redis_conn import KEY_PREFIX, client_from_url, url_db

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


@functools.lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    # One pooled client per URL: a new client per lead opened a new connection each time (a third of the
    # intake's CPU in `make bench`); redis-py's pool is safe to share between the pool's threads.
    return client_from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)


def publish(data: Dict[str, Any], client: Optional[redis.Redis] = None) -> None:
    client = client or _client(settings().redis_connection_url)
    client.publish(channel(), json.dumps(data))


def _deliver(data: Dict[str, Any]) -> None:
    try:
        publish(data)
    except Exception as error:  # noqa: BLE001  (Redis down: the console just needs a reload)
        logger.warning("could not publish new %s %s to the staff console: %s", data["kind"], data["id"], type(error).__name__)
    if data["kind"] == "lead" and data["qualified"]:
        from bot.staff.alerts import send_qualified_alert  # imported here: python-telegram-bot loads only when used

        send_qualified_alert(data)


def publish_new_lead(lead: Any) -> Optional[Future[None]]:
    """Announce a newly stored lead or hand-off in the background; returns the future (tests wait on it)."""
    if settings().staff_events == "off":
        return None
    try:
        return _pool.submit(_deliver, summary(lead))
    except Exception as error:  # noqa: BLE001  (e.g. the pool is shut down at exit)
        logger.warning("staff notification not scheduled: %s", type(error).__name__)
        return None
