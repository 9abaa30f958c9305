"""A fake Telegram Bot API server: enough of it for python-telegram-bot to poll, send and edit.

Tests inject updates (a typed message, a command, a button press) and read what the bot sent.
It listens on loopback only; the bot reaches it through PTB's base_url.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

BOT_USER = {"id": 4242, "is_bot": True, "first_name": "City Partner", "username": "gzcp_test_bot"}
JSON_FIELDS = ("reply_markup", "commands", "allowed_updates", "scope")


class FakeBotAPI:
    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: List[Dict[str, Any]] = []  # every request: {"method": ..., **params}
        self._updates: List[Dict[str, Any]] = []
        self._lock = threading.Lock()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self.app = Starlette(routes=[Route("/bot{token}/{method}", self._handle, methods=["GET", "POST"])])

    # --- what tests call -----------------------------------------------------------------------
    def _push(self, update: Dict[str, Any]) -> None:
        with self._lock:
            update["update_id"] = next(self._update_ids)
            self._updates.append(update)

    def _user(self, chat_id: int, language_code: str) -> Dict[str, Any]:
        return {"id": chat_id, "is_bot": False, "first_name": "Test", "language_code": language_code}

    def message(self, chat_id: int, text: str, language_code: str = "en", chat_type: str = "private",
                user_id: Optional[int] = None) -> None:
        message: Dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": chat_type, **({"title": "A group"} if chat_type != "private" else {})},
            "from": self._user(user_id or chat_id, language_code),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        self._push({"message": message})

    def press(self, chat_id: int, data: str, message_id: int = 1, language_code: str = "en", chat_type: str = "private") -> None:
        self._push(
            {
                "callback_query": {
                    "id": str(next(self._message_ids)),
                    "from": self._user(chat_id, language_code),
                    "chat_instance": str(chat_id),
                    "data": data,
                    "message": {
                        "message_id": message_id,
                        "date": int(time.time()),
                        "chat": {"id": chat_id, "type": chat_type},
                        "text": "…",
                    },
                }
            }
        )

    def sent(self, chat_id: Optional[int] = None, method: str = "sendMessage") -> List[Dict[str, Any]]:
        with self._lock:
            return [c for c in self.calls if c["method"] == method and (chat_id is None or str(c.get("chat_id")) == str(chat_id))]

    def wait_for(self, condition: Callable[[], Any], timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            time.sleep(0.05)
        raise AssertionError(f"timed out; the bot made these calls: {[c['method'] for c in self.calls]}")

    def wait_for_messages(self, chat_id: int, count: int, timeout: float = 30.0) -> List[Dict[str, Any]]:
        return self.wait_for(lambda: len(self.sent(chat_id)) >= count and self.sent(chat_id), timeout)

    # --- the server side -------------------------------------------------------------------------
    async def _params(self, request: Request) -> Dict[str, Any]:
        params: Dict[str, Any] = dict(request.query_params)
        if request.method == "POST":
            if request.headers.get("content-type", "").startswith("application/json"):
                params.update(json.loads(await request.body() or b"{}"))
            else:
                params.update(dict(await request.form()))
        for key in JSON_FIELDS:
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        return params

    async def _handle(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != self.token:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401)
        method = request.path_params["method"]
        params = await self._params(request)
        if method != "getUpdates":
            with self._lock:
                self.calls.append({"method": method, **params})
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return JSONResponse({"ok": False, "error_code": 404, "description": f"Not Found: {method}"}, status_code=404)
        return JSONResponse({"ok": True, "result": await handler(params)})

    async def _api_getMe(self, params: Dict[str, Any]) -> Any:
        return {**BOT_USER, "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}

    async def _api_getUpdates(self, params: Dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 2.0)
        while True:
            with self._lock:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]  # offset confirms earlier ones
                pending = list(self._updates)
            if pending or time.monotonic() >= deadline:
                return pending
            await asyncio.sleep(0.05)

    async def _api_sendMessage(self, params: Dict[str, Any]) -> Any:
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": int(params["chat_id"]), "type": "private"},
            "from": BOT_USER,
            "text": params.get("text", ""),
        }

    async def _api_true(self, params: Dict[str, Any]) -> Any:
        return True

    _api_deleteWebhook = _api_setWebhook = _api_setMyCommands = _api_sendChatAction = _api_answerCallbackQuery = _api_true
    _api_editMessageReplyMarkup = _api_true
