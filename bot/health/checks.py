"""One check per dependency of the web app; each returns a small dict with at least `status`.

Readiness means this process can serve a chat message and store a lead: its database answers, Redis
answers, and at least one Rasa replica is ready (model loaded, Redis stores reachable, nothing kept in
Rasa's in-memory fallback; see rasa_addons.health_channel). Delivery workers and the dead-letter count
are reported but do not decide readiness: leads wait safely in the outbox while no worker runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Dict

from sqlalchemy import text

from bot.chat.rasa import RasaClient
from bot.db import get_engine
from bot.shared.outbox import Outbox
from bot.shared.redis_conn import redis_from_env

logger = logging.getLogger(__name__)
WORKER_STALE_SECONDS = 30


def database() -> Dict[str, Any]:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "up"}
    except Exception as error:  # any driver's error: report it, never fail the probe itself
        return {"status": "down", "error": type(error).__name__}


def redis_and_delivery() -> Dict[str, Any]:
    """Redis is up when it answers a ping; what the outbox holds (one bad job, say) only colours `delivery`."""
    client = redis_from_env(socket_timeout=1.0, socket_connect_timeout=1.0)
    try:
        try:
            client.ping()
        except Exception as error:
            return {"status": "down", "error": type(error).__name__}
        return {"status": "up", "delivery": _delivery(Outbox(client))}
    finally:
        client.close()


def _delivery(outbox: Outbox) -> Dict[str, Any]:
    try:
        now = time.time()
        workers = {name: round(now - seen, 1) for name, seen in outbox.workers().items()}
        stats = outbox.stats()
    except Exception as error:  # reported, not fatal: the outbox is not what readiness depends on
        return {"error": type(error).__name__}
    return {
        "workers": len([age for age in workers.values() if age < WORKER_STALE_SECONDS]),
        "pending": stats.get("pending", 0),
        "dead": stats.get("dead", 0),
    }


async def rasa(client: RasaClient) -> Dict[str, Any]:
    replicas = await client.readiness()
    ready = sum(1 for r in replicas.values() if r.get("status") == "ready")
    return {"status": "up" if ready else "down", "ready_replicas": ready, "replicas": replicas}


class Readiness:
    """Runs the checks together and logs each change of the overall verdict once."""

    def __init__(self) -> None:
        self.last: Dict[str, str] = {}

    async def check(self, client: RasaClient) -> Dict[str, Any]:
        loop = asyncio.get_running_loop()
        db, red, ras = await asyncio.gather(
            loop.run_in_executor(None, database), loop.run_in_executor(None, redis_and_delivery), rasa(client)
        )
        parts = {"database": db, "redis": red, "rasa": ras}
        for name, part in parts.items():
            if self.last.get(name) != part["status"]:
                log = logger.info if part["status"] == "up" else logger.error
                log("readiness: %s is %s", name, part["status"])
                self.last[name] = part["status"]
        ready = all(part["status"] == "up" for part in parts.values())
        return {"status": "ready" if ready else "degraded", **parts}
