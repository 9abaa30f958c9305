"""The web app on :8000 (FastAPI): health, the program API, lead intake, the staff console, the chat
gateway to the Rasa replicas, the WeChat channel and the landing page with its widget."""

from __future__ import annotations

from fastapi import FastAPI

from bot import errors
from bot.chat.routes import router as chat_router
from bot.health.routes import router as health_router
from bot.leads.guard import IntakeGuard
from bot.leads.routes import router as leads_router
from bot.metrics.exporter import router as metrics_router
from bot.settings import ConfigError, settings
from bot.shared import logs, redis_conn
from bot.shared.config import ConfigError as SharedConfigError
from bot.shared.program import default_store
from bot.shared.program.eligibility import default_rules
from bot.shared.secrets import refuse_development_secrets
from bot.staff.app import install as install_staff
from bot.web.program_api import router as program_router
from bot.web.routes import router as web_router
from bot.wechat.routes import router as wechat_router


def create_app() -> FastAPI:
    logs.install()  # before anything logs: emails and phone numbers never reach a log in clear
    settings()  # a setting that does not parse stops the app here, naming the variable (bot/settings.py)
    refuse_development_secrets("web app")  # APP_ENV=production: no empty or dev-only- secret
    redis_conn.verify_at_start(settings().redis_connection_url)  # so does a Redis password it refuses
    default_store.load()  # a broken data file stops the app at start, not at the first question
    default_rules()  # likewise for the eligibility rules the intake assesses leads with
    app = FastAPI(title="Guangzhou City Partner assistant", version="0.1.0")
    errors.install(app)  # 4xx bodies that never fail to encode (lone surrogates, NaN, deep nesting)
    app.add_middleware(IntakeGuard)  # /api/leads: key and size checked before the body is read
    # The widget's gateway to Rasa (issue 5) first: FastAPI tries the routers in order, and a chat message is the
    # most frequent request (0.08 ms a message to match it behind the others, 0.01 first).
    app.include_router(chat_router)
    app.include_router(metrics_router)  # GET /metrics (Prometheus)
    app.include_router(program_router)
    app.include_router(leads_router)
    install_staff(app)  # the staff console: /staff pages and the /api/staff JSON API (issue 4)
    app.include_router(wechat_router)  # /api/wechat: the WeChat Official Account channel (issue 17)
    app.include_router(web_router)  # `/` landing page and the widget's files

    app.include_router(health_router)  # /healthz and /readyz

    return app


try:
    app = create_app()
except (ConfigError, SharedConfigError) as error:  # one clear line naming the variable, not a traceback
    raise SystemExit(f"error: {error}") from None
