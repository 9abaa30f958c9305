"""An ASGI guard in front of /api/leads: the key is checked and the size enforced before a byte of the body
is read (FastAPI would read and parse the whole body before any dependency ran). A refused request gets the
intake's usual JSON error and is counted in gzcp_leads_intake_total; the usual new lead is answered here by
bot.leads.fast_path; any other accepted request reaches the routes with its body replayed unchanged."""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Dict, List, Optional

from bot.leads import access, fast_path
from bot.metrics.exporter import LEADS_INTAKE
from bot.settings import settings

Scope = Dict[str, Any]
Message = Dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KEY_CHECKED = "gzcp.intake_key_checked"  # set in the ASGI scope of a request the guard let through
OUTCOMES = {401: "unauthorized", 403: "unauthorized", 503: "unconfigured", 413: "rejected"}


async def _answer(send: Send, status: int, detail: str, headers: Optional[List[tuple]] = None) -> None:
    body = json.dumps({"detail": detail}).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class IntakeGuard:
    def __init__(self, app: ASGIApp, fast_path: bool = True) -> None:
        self.app = app
        self.fast_path = fast_path  # the usual new lead answered here (bot.leads.fast_path); False: always the route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == access.PREFIX or path.startswith(access.PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        headers = dict(scope.get("headers") or [])
        counted = method == "POST" and path.rstrip("/") == access.PREFIX

        async def refuse(status: int, detail: str, extra: Optional[List[tuple]] = None) -> None:
            if counted:
                LEADS_INTAKE.labels("unknown", OUTCOMES[status]).inc()  # the body was never read: kind unknown
            await _answer(send, status, detail, extra)

        problem = access.refusal(method, path, headers.get(b"x-api-key"))
        if problem is not None:
            await refuse(*problem, [(b"www-authenticate", b"ApiKey")] if problem[0] == 401 else None)
            return
        limit = settings().intake_max_body_bytes
        too_large = f"the request body is larger than {limit} bytes"
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await refuse(413, too_large)
            return
        chunks, size = [], 0
        while True:  # at most `limit` bytes are held: a huge or endless upload is cut off early
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await refuse(413, too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False
        if counted and path == access.PREFIX and self.fast_path:
            if await fast_path.respond(scope, scope.get("headers") or [], body, send):
                return

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        scope[KEY_CHECKED] = True  # the routes' own check (bot.leads.routes require_key) need not repeat it
        await self.app(scope, replay, send)
