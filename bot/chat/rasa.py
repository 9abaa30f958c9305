"""Rasa's REST webhook and HTTP API, as the web gateway and the Telegram bridge both use them.

One shared httpx.AsyncClient (the owner opens and closes it). Every way Rasa can fail — down, slow,
5xx, a wrong API token — becomes RasaUnavailable, so a channel has one thing to turn into a polite reply.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import quote

import httpx

from bot.program.answers import Button, Reply  # one reply shape for answers, forms and channels

logger = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """Rasa did not answer usefully (unreachable, timed out, or an error status)."""



def parse_buttons(raw: Any) -> Tuple[Button, ...]:
    buttons = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and isinstance(item.get("title"), str) and isinstance(item.get("payload"), str):
            buttons.append(Button(title=item["title"], payload=item["payload"]))
    return tuple(buttons)


def parse_replies(raw: Any) -> List[Reply]:
    """Rasa's REST replies ([{recipient_id, text, buttons}]) without the parts a channel cannot show."""
    replies = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        text = item.get("text") if isinstance(item.get("text"), str) else ""
        buttons = parse_buttons(item.get("buttons"))
        if text or buttons:
            replies.append(Reply(text=text, buttons=buttons))
    return replies


class RasaClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str, token: str = "") -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.token = token

    @classmethod
    def from_env(cls, http: httpx.AsyncClient) -> RasaClient:
        return cls(
            http,
            os.environ.get("RASA_URL", "http://127.0.0.1:5005"),
            os.environ.get("RASA_AUTH_TOKEN", ""),
        )

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self.http.request(method, f"{self.base_url}{path}", **kwargs)
        except httpx.TimeoutException as error:
            raise RasaUnavailable("timed out") from error
        except httpx.HTTPError as error:
            raise RasaUnavailable(f"unreachable: {type(error).__name__}") from error
        if response.status_code >= 400:
            # 401/403 here is a configuration error (RASA_AUTH_TOKEN), worth a warning, not a crash.
            logger.warning("rasa answered %s to %s %s", response.status_code, method, path)
            raise RasaUnavailable(f"status {response.status_code}")
        try:
            return response.json()
        except ValueError as error:
            raise RasaUnavailable("not JSON") from error

    async def send(self, sender: str, message: str, metadata: Optional[Dict[str, Any]] = None) -> List[Reply]:
        """One user message through the REST channel; the assistant's replies."""
        body: Dict[str, Any] = {"sender": sender, "message": message}
        if metadata:
            body["metadata"] = metadata
        return parse_replies(await self._request("POST", "/webhooks/rest/webhook", json=body))

    def _conversation(self, sender: str) -> str:
        return f"/conversations/{quote(sender, safe='')}/tracker"

    async def set_slot(self, sender: str, name: str, value: Any) -> None:
        event = {"event": "slot", "name": name, "value": value}
        await self._request("POST", f"{self._conversation(sender)}/events", params={"token": self.token}, json=[event])

    async def events(self, sender: str) -> List[Dict[str, Any]]:
        """The conversation's events since its last restart (Rasa's default for the tracker endpoint)."""
        tracker = await self._request("GET", self._conversation(sender), params={"token": self.token})
        events = tracker.get("events") if isinstance(tracker, dict) else None
        return [e for e in events or [] if isinstance(e, dict)]
