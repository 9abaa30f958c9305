"""A fake intake for the delivery worker's tests (served through httpx.MockTransport)."""

from __future__ import annotations

import json
from typing import Dict, List

import httpx


class FakeIntake:
    """Stores by Idempotency-Key like the real intake; can be switched off or made to refuse."""

    def __init__(self) -> None:
        self.stored: Dict[str, dict] = {}
        self.calls: List[str] = []
        self.up = True
        self.refuse = False
        self.deleted: List[str] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.method)
        if not self.up:
            raise httpx.ConnectError("intake down", request=request)
        if request.method == "DELETE":
            conversation = request.url.params["conversation_id"]
            self.deleted.append(conversation)
            gone = [k for k, v in self.stored.items() if v["conversation_id"] == conversation]
            for key in gone:
                del self.stored[key]
            return httpx.Response(200, json={"deleted": len(gone)})
        if request.headers.get("X-API-Key") != "k":
            return httpx.Response(401, json={"detail": "missing or wrong X-API-Key"})
        if self.refuse:
            return httpx.Response(422, json={"detail": [{"loc": ["body", "contact", "email"], "msg": "bad",
                                                        "input": "secret@example.com"}]})
        key = request.headers["Idempotency-Key"]
        replay = key in self.stored
        self.stored.setdefault(key, json.loads(request.content))
        return httpx.Response(200 if replay else 201, json={"id": f"lead-{key}"})
