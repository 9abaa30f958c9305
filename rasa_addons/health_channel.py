"""A Rasa input channel that takes no messages: it serves health checks on the Rasa server itself.

    GET /webhooks/health/        liveness: the process answers
    GET /webhooks/health/ready   readiness: model loaded, tracker and lock stores persistent and reachable,
                                 no conversation kept in Rasa's in-memory fallback (200, else 503 + why)

A background task checks every HEALTH_CHECK_SECONDS (default 5), logs each change of state and drops
the in-memory fallback once Redis is back (see store_health). Listed in credentials.yml.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.shared.config import env_float
from rasa_addons import turn_guard
from rasa_addons.store_health import Monitor, inspect

logger = logging.getLogger(__name__)


class HealthInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "health"

    def __init__(self) -> None:
        self.monitor = Monitor()
        self.interval = env_float("HEALTH_CHECK_SECONDS", 5.0, minimum=0.1)

    async def check(self, app: Any) -> Any:
        agent = getattr(app.ctx, "agent", None)
        turn_guard.install(agent)  # again after a model reload, which makes a new tracker store
        health = await asyncio.get_running_loop().run_in_executor(None, inspect, agent)
        return self.monitor.observe(agent, health)

    async def watch(self, app: Any) -> None:
        while True:
            try:
                await self.check(app)
            except Exception:  # a check must never end the watch
                logger.exception("store health check failed")
            await asyncio.sleep(self.interval)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("health_webhook", __name__)

        @bp.listener("after_server_start")
        async def start_watch(app: Any, _loop: Any) -> None:
            app.add_task(self.watch(app))

        @bp.route("/", methods=["GET"])
        async def alive(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/ready", methods=["GET"])
        async def ready(request: Request) -> HTTPResponse:
            health = await self.check(request.app)
            body = self.monitor.report(health)
            body["turns_refused_on_store_errors"] = turn_guard.stats.refused_turns
            body["last_store_error"] = turn_guard.stats.last_error
            body["last_store_error_at"] = turn_guard.stats.last_error_at
            body["turns_refused_on_action_errors"] = turn_guard.stats.refused_on_actions
            return response.json(body, status=200 if health.ready else 503)

        return bp
