"""Counting POST /api/leads by kind and outcome (`gzcp_leads_intake_total`), without touching the route's code.

The leads router uses `CountedIntakeRoute` as its route class; it wraps the one POST handler and reads the
outcome from what the handler returned or raised: 201 created, 200 replayed, 401 unauthorized, 503
unconfigured, a 422 for a reused Idempotency-Key (raised while handling service.IdempotencyConflict)
conflict, any other 4xx or body validation error rejected. The kind comes from the body FastAPI already
parsed (it reads the body before checking the API key); "unknown" when there was no JSON object with a
valid kind. Other routes of the router are left as they are. bot.leads.fast_path counts the leads it
answers itself with `count_answer`, the same way. A request refused before its body is read
(bot.leads.guard: no or wrong key, unconfigured, too large) is counted there, with the kind "unknown".
"""

from __future__ import annotations

from typing import Any, Callable, Coroutine

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from bot.leads.service import IdempotencyConflict
from bot.metrics.exporter import LEADS_INTAKE

INTAKE_PATH = "/api/leads"


def _kind(request: Request) -> str:
    # Starlette keeps the parsed JSON on the request once FastAPI has read it; never parse a body again here.
    body: Any = getattr(request, "_json", None)
    kind = body.get("kind") if isinstance(body, dict) else None
    return kind if kind in ("lead", "handoff") else "unknown"


def _outcome_of_http(error: HTTPException) -> str:
    if error.status_code in (401, 403):
        return "unauthorized"
    if error.status_code == 503:
        return "unconfigured"
    if error.status_code == 422 and isinstance(error.__context__, IdempotencyConflict):
        return "conflict"
    return "rejected" if error.status_code < 500 else "error"


def count_answer(kind: str, status: int) -> None:
    """Count a POST /api/leads that was answered `status` (the route's, or its fast path's: bot.leads.fast_path)."""
    outcome = "created" if status == 201 else "replayed" if status == 200 else "rejected" if status < 500 else "error"
    LEADS_INTAKE.labels(kind, outcome).inc()


class CountedIntakeRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.path != INTAKE_PATH or "POST" not in self.methods:
            return handler

        async def counted(request: Request) -> Response:
            try:
                response = await handler(request)
            except HTTPException as error:
                LEADS_INTAKE.labels(_kind(request), _outcome_of_http(error)).inc()
                raise
            except RequestValidationError:
                LEADS_INTAKE.labels(_kind(request), "rejected").inc()
                raise
            except Exception:
                LEADS_INTAKE.labels(_kind(request), "error").inc()
                raise
            count_answer(_kind(request), response.status_code)
            return response

        return counted
