"""POST /api/leads's usual request — a new lead or hand-off, a valid JSON body — answered in the intake's ASGI
guard (bot.leads.guard), without FastAPI's routing and argument solving: for this one route they cost more than
the lead's own validation, assessment and insert together (`make bench`, intake).

It takes only what it can answer exactly as the route would (bot.leads.routes.create_lead): Starlette's
parsing (`json.loads`), the route's model and header limit, the same service, writer, answer and count.
Everything else — another content type, a body or Idempotency-Key that does not validate, a profile the
assessment refuses, a key reused with another body, an overridden database dependency this path cannot call —
is left to the route, which answers it (only a refusal pays the parsing twice).
tests/bot/leads/test_fast_path.py holds both paths to the same answers.
"""

from __future__ import annotations

import inspect
import json
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from sqlalchemy.orm import Session, sessionmaker

from bot.db import get_sessions
from bot.leads import service, writer
from bot.leads.answer import answer
from bot.leads.schemas import IntakeRequest
from bot.metrics.intake import count_answer
from bot.shared.intake import MAX_IDEMPOTENCY_KEY_CHARS

Send = Callable[[Dict[str, Any]], Awaitable[None]]
Headers = List[Tuple[bytes, bytes]]


def _only(headers: Headers, name: bytes) -> Tuple[int, Optional[bytes]]:
    """How many times the header `name` came, and its value when it came once."""
    values = [value for key, value in headers if key == name]
    return len(values), values[0] if len(values) == 1 else None


def _idempotency_key(headers: Headers) -> Tuple[bool, Optional[str]]:
    """(usable here, the key): absent, or once and within the route's limits (Starlette reads headers as latin-1)."""
    times, value = _only(headers, b"idempotency-key")
    if times == 0:
        return True, None
    key = value.decode("latin-1") if value is not None else ""
    return times == 1 and 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_CHARS, key


def _json_content(headers: Headers) -> bool:
    # A subset of what FastAPI reads as JSON (application/json or */*+json, any parameters): one plain header.
    times, value = _only(headers, b"content-type")
    return times == 1 and value is not None and value.split(b";", 1)[0].strip().lower() == b"application/json"


async def _sessions(app: Any) -> Optional[sessionmaker[Session]]:
    """The route's `get_sessions` dependency, or the override a test set; None if it is not a plain async call."""
    overrides = getattr(app, "dependency_overrides", {})
    dependency = overrides.get(get_sessions, get_sessions)
    if not inspect.iscoroutinefunction(dependency):
        return None
    return await dependency()


async def respond(scope: Dict[str, Any], headers: Headers, body: bytes, send: Send) -> bool:
    """Answer the request and return True, or return False having sent nothing and stored nothing."""
    usable, key = _idempotency_key(headers)
    if not (usable and body and _json_content(headers)):
        return False
    try:
        request = IntakeRequest.model_validate(json.loads(body))
        lead = service.prepare(request, key)
    except Exception:  # noqa: BLE001  (whatever refuses it here, the route refuses it the same way, with its answer)
        return False
    sessions = await _sessions(scope.get("app"))
    if sessions is None:
        return False
    try:
        stored = await writer.for_sessions(sessions).store(lead)
    except service.IdempotencyConflict:
        return False  # the route stores nothing either and answers 422
    except Exception:
        count_answer(request.kind, 500)
        raise
    status, extra, content = answer(stored)
    response_headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in extra.items()]
    response_headers += [(b"content-length", str(len(content)).encode()), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": response_headers})
    await send({"type": "http.response.body", "body": content})
    count_answer(request.kind, status)
    return True
