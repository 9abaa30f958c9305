"""Mounting the console on the web app: `install(app)` from bot.main."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from bot.leads import events as lead_events
from bot.staff import api, i18n, insight_routes, knowledge_routes, review_routes, routes
from bot.staff.auth import StaffPageError
from bot.staff.erasure import erase_staff_records
from bot.staff.events import publish_new_lead
from bot.staff.pages import render, translator

STATIC_DIR = Path(__file__).resolve().parent / "static"


async def _page_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StaffPageError)
    if error.status_code == 303:
        return RedirectResponse(error.headers["Location"], 303) if error.headers else RedirectResponse("/staff/login", 303)
    t = translator(request)
    return render(request, "error.html", {"message": error.error.text(t), "status": error.status_code,
                                          "title": t("error.title")}, error.status_code)


def install(app: FastAPI) -> None:
    i18n.check()  # a broken bot/staff/i18n.yml stops the app at start, naming the entry
    lead_events.on_lead_stored(publish_new_lead)  # live list and Telegram alert for each stored lead
    lead_events.on_conversation_erased(erase_staff_records)  # notes and audit details go with an erasure
    app.include_router(routes.router)
    app.include_router(review_routes.router)
    app.include_router(insight_routes.router)
    app.include_router(knowledge_routes.router)
    app.include_router(api.router)
    app.mount("/staff/static", StaticFiles(directory=STATIC_DIR), name="staff-static")
    app.add_exception_handler(StaffPageError, _page_error)
