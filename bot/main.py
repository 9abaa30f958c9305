"""The web app on :8000 (FastAPI). Today: health, the program API and lead intake; the staff console
and chat gateway mount here as they land."""

from __future__ import annotations

import os
from typing import Dict

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from bot import logs
from bot.chat.routes import router as chat_router
from bot.leads.routes import router as leads_router
from bot.program import default_store
from bot.program.eligibility import default_rules
from bot.program.routes import router as program_router
from bot.staff.app import install as install_staff
from bot.web.routes import router as web_router


def create_app() -> FastAPI:
    logs.install()  # before anything logs: emails and phone numbers never reach a log in clear
    default_store.load()  # a broken data file stops the app at start, not at the first question
    default_rules()  # likewise for the eligibility rules the intake assesses leads with
    app = FastAPI(title="Guangzhou City Partner assistant", version="0.1.0")
    app.include_router(program_router)
    app.include_router(leads_router)
    install_staff(app)  # the staff console: /staff pages and the /api/staff JSON API (issue 4)
    app.include_router(chat_router)  # the widget's gateway to Rasa (issue 5)
    app.include_router(web_router)  # `/` landing page and the widget's files

    @app.get("/healthz", tags=["health"])
    def healthz() -> Dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        rasa_url = os.environ.get("RASA_URL", "http://127.0.0.1:5005")
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                rasa_ok = (await client.get(f"{rasa_url}/")).status_code == 200
        except httpx.HTTPError:
            rasa_ok = False
        body = {"status": "ready" if rasa_ok else "degraded", "rasa": "up" if rasa_ok else "unreachable"}
        return JSONResponse(body, status_code=200 if rasa_ok else 503)

    return app


app = create_app()
