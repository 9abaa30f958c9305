"""A loopback HTTP proxy in front of a real server (Rasa) that can hold its answers back: a slow turn on demand.

Everything is forwarded as it came (method, path, query, body); while `delay` is set, the answers to paths in
`slow_paths` wait that long first, so the web app sees the real assistant being slow.
"""

from __future__ import annotations

import asyncio
from typing import Tuple

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}


class SlowProxy:
    def __init__(self, target: str, slow_paths: Tuple[str, ...] = ("/webhooks/rest/webhook",)) -> None:
        self.target = target.rstrip("/")
        self.slow_paths = slow_paths
        self.delay = 0.0
        self.slowed = 0  # answers held back so far
        self.app = Starlette(routes=[Route("/{path:path}", self._forward, methods=["GET", "POST", "PUT", "DELETE"])])

    async def _forward(self, request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        async with httpx.AsyncClient(timeout=60) as client:
            upstream = await client.request(request.method, f"{self.target}{request.url.path}",
                                            params=request.query_params, content=await request.body(), headers=headers)
        if self.delay and request.url.path in self.slow_paths:
            self.slowed += 1
            await asyncio.sleep(self.delay)
        return Response(upstream.content, status_code=upstream.status_code,
                        headers={k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS})
