"""A fake Rasa server (REST webhook + the tracker endpoints the channels use), scripted by tests."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable, Dict, List, Optional

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Replier = Callable[[str, str], List[Dict[str, Any]]]


MORE = '/ask_program{"topic": "benefits"}'  # the payload of the "More" button every echo offers


def echo(sender: str, message: str) -> List[Dict[str, Any]]:
    return [{"recipient_id": sender, "text": f"echo: {message}", "buttons": [{"title": "More", "payload": MORE}]}]


class FakeRasa:
    def __init__(self, token: str = "fake-token", replier: Replier = echo) -> None:
        self.token = token
        self.replier = replier
        self.down = False  # answer 500
        self.delay = 0.0  # seconds before answering (timeouts)
        self.received: List[Dict[str, Any]] = []  # webhook bodies
        self.slots: List[Dict[str, Any]] = []  # {"sender", "name", "value"} from tracker/events
        self.events: Dict[str, List[Dict[str, Any]]] = {}
        self.turn_actions: List[str] = []  # actions recorded after each user message (e.g. a form's)
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/webhooks/rest/webhook", self._webhook, methods=["POST"]),
                Route("/conversations/{sender}/tracker/events", self._append, methods=["POST"]),
                Route("/conversations/{sender}/tracker", self._tracker, methods=["GET"]),
            ]
        )

    def messages(self, sender: Optional[str] = None) -> List[str]:
        with self._lock:
            return [r["message"] for r in self.received if sender is None or r["sender"] == sender]

    async def _gate(self) -> Optional[Response]:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down:
            return JSONResponse({"status": "failure"}, status_code=500)
        return None

    async def _webhook(self, request: Request) -> Response:
        failed = await self._gate()
        if failed:
            return failed
        body = await request.json()
        with self._lock:
            self.received.append(body)
        replies = self.replier(body["sender"], body["message"])
        events = self.events.setdefault(body["sender"], [])
        events.append({"event": "user", "text": body["message"], "metadata": body.get("metadata") or {}})
        events.extend({"event": "action", "name": name} for name in self.turn_actions)
        events.extend({"event": "bot", "text": r.get("text"), "data": {"buttons": r.get("buttons")}} for r in replies)
        return JSONResponse(replies)

    def _authorised(self, request: Request) -> bool:
        return request.query_params.get("token") == self.token

    async def _append(self, request: Request) -> Response:
        failed = await self._gate()
        if failed:
            return failed
        if not self._authorised(request):
            return JSONResponse({"status": "failure"}, status_code=401)
        sender = request.path_params["sender"]
        for event in await request.json():
            with self._lock:
                if event.get("event") == "slot":
                    self.slots.append({"sender": sender, "name": event["name"], "value": event["value"]})
                else:
                    self.events.setdefault(sender, []).append(event)
        return JSONResponse({"sender_id": sender, "events": self.events.get(sender, [])})

    async def _tracker(self, request: Request) -> Response:
        failed = await self._gate()
        if failed:
            return failed
        if not self._authorised(request):
            return JSONResponse({"status": "failure"}, status_code=401)
        sender = request.path_params["sender"]
        return JSONResponse({"sender_id": sender, "events": self.events.get(sender, [])})
