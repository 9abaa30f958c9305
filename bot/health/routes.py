"""GET /healthz (the process answers) and GET /readyz (it can serve: see checks), for probes and people."""

from __future__ import annotations

from typing import Dict

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.chat.rasa import RasaClient
from bot.health.checks import Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> Dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """200 when ready, else 503; the body names each dependency's state (no secrets, no personal data)."""
    readiness = getattr(request.app.state, "readiness", None)
    if readiness is None:
        readiness = request.app.state.readiness = Readiness()
    async with RasaClient.from_env(timeout=3.0) as rasa:
        body = await readiness.check(rasa)
    return JSONResponse(body, status_code=200 if body["status"] == "ready" else 503)
