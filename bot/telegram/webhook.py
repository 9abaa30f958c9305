"""Webhook mode: a small ASGI app Telegram posts updates to (no tornado needed: uvicorn serves it).

Telegram sends the secret given to setWebhook in X-Telegram-Bot-Api-Secret-Token; anything without it
is refused, so nobody else can inject updates. Put it behind your HTTPS reverse proxy.
"""

from __future__ import annotations

import hmac
import json
import logging

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application

from bot.telegram.bridge import _post_init, _post_shutdown
from bot.telegram.config import TelegramSettings

logger = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]


def webhook_app(application: Application, secret: str, path: str) -> Starlette:
    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8")):
            return PlainTextResponse("forbidden", status_code=403)
        try:
            update = Update.de_json(json.loads(await request.body()), application.bot)
        except (ValueError, TypeError, KeyError):
            return PlainTextResponse("bad update", status_code=400)
        await application.update_queue.put(update)
        return Response(status_code=200)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route(path, receive, methods=["POST"]), Route("/healthz", health, methods=["GET"])])


async def run_webhook(application: Application, settings: TelegramSettings) -> None:
    assert settings.webhook_url and settings.webhook_secret  # checked by TelegramSettings.from_env
    server = uvicorn.Server(
        uvicorn.Config(
            webhook_app(application, settings.webhook_secret, settings.webhook_path),
            host=settings.webhook_listen,
            port=settings.webhook_port,
            log_level="warning",
            access_log=False,  # the access log would carry nothing useful, and no texts
        )
    )
    async with application:
        await _post_init(application)
        await application.bot.set_webhook(
            settings.webhook_url, secret_token=settings.webhook_secret, allowed_updates=ALLOWED_UPDATES
        )
        await application.start()
        logger.info("telegram bridge: webhook on %s:%s%s", settings.webhook_listen, settings.webhook_port, settings.webhook_path)
        try:
            await server.serve()  # until SIGINT/SIGTERM
        finally:
            await application.stop()
            await _post_shutdown(application)
