"""Rasa's REST webhook and HTTP API, as the web gateway and the Telegram bridge both use them.

Each RasaClient holds one aiohttp session (keep-alive connections, opened on first use inside the running
event loop); its owner closes it with `aclose()`. aiohttp rather than httpx on this path: a call to Rasa costs
the client about a quarter of the CPU (0.11 against 0.42 ms, measured with both on one local endpoint), and the
gateway makes one per message (issue 14). Every way Rasa can fail — down, slow, 5xx, a wrong API token —
becomes RasaUnavailable, so a channel has one thing to turn into a polite reply.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union
from urllib.parse import quote

import aiohttp

from bot.chat.replicas import Replicas
from bot.settings import settings
from bot.shared.replies import Reply  # one reply shape for answers, forms and channels
from bot.shared.transcript import parse_buttons

logger = logging.getLogger(__name__)
RESTART = "/restart"  # the one message Rasa rightly answers with silence
CONNECT_SECONDS = 3.0
# Idle connections are dropped before Rasa's own keep-alive (120 s) can close one under a request.
KEEPALIVE_SECONDS = 30.0
MAX_CONNECTIONS = 50


class RasaUnavailable(Exception):
    """Rasa did not answer usefully (unreachable, timed out, an error status, or no reply at all)."""

    def __init__(self, reason: str, retryable: bool = True) -> None:
        super().__init__(reason)
        self.retryable = retryable  # False when Rasa may still be handling the message (a time-out)


def retry_delays_from_env() -> Tuple[float, ...]:
    """CHAT_RASA_RETRY_DELAYS, e.g. "0.5,1,2": the pauses before each new attempt at a failed turn."""
    return settings().chat_rasa_retry_delays


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
    """Talks to one or more Rasa replicas (they share Redis trackers and locks; see bot.chat.replicas).

    A replica that refuses the connection is skipped for the next. A turn that fails inside Rasa (a 5xx,
    or the REST channel's empty answer, which is what Rasa sends when Redis or the action server failed
    while it handled the message) is undone on the tracker when it was recorded, then tried again after
    a pause; so is a message whose connection broke mid-turn (a replica died): it is sent again with the
    same turn id, and Rasa answers it from the tracker if the dead replica had stored it. The caller
    gets RasaUnavailable only when every attempt failed. A time-out is not retried: the user has waited
    long enough, and gets the polite reply at once.
    """

    def __init__(
        self,
        base_url: Union[str, Sequence[str]],
        token: str = "",
        retry_delays: Optional[Sequence[float]] = None,
        timeout: Optional[float] = None,
    ) -> None:
        self.replicas = Replicas([base_url] if isinstance(base_url, str) else list(base_url))
        self.token = token
        self.retry_delays = tuple(retry_delays) if retry_delays is not None else retry_delays_from_env()
        self.timeout = aiohttp.ClientTimeout(
            total=timeout if timeout is not None else settings().chat_rasa_timeout_seconds, connect=CONNECT_SECONDS
        )
        self._session: Optional[aiohttp.ClientSession] = None

    @classmethod
    def from_env(cls, timeout: Optional[float] = None) -> RasaClient:
        return cls(settings().rasa_replicas, settings().rasa_auth_token, timeout=timeout)

    def _http(self) -> aiohttp.ClientSession:
        """The session, made on first use: aiohttp binds it to the event loop that is running then."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_SECONDS)
            # No cookies, no environment proxies: Rasa is reached directly, and one user's turn never carries
            # anything from another's.
            self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout,
                                                  cookie_jar=aiohttp.DummyCookieJar(), trust_env=False)
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> RasaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _request(self, method: str, path: str, sender: str, **kwargs: Any) -> Any:
        failure = RasaUnavailable("no replica")
        for url in self.replicas.order(sender):
            try:
                async with self._http().request(method, f"{url}{path}", **kwargs) as response:
                    status, raw = response.status, await response.read()
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as error:
                # The request never reached this replica: another one can take it.
                self.replicas.mark_down(url)
                failure = RasaUnavailable(f"unreachable: {type(error).__name__}")
                continue
            except asyncio.TimeoutError as error:  # aiohttp's read time-outs are TimeoutErrors too
                raise RasaUnavailable("timed out", retryable=False) from error
            except aiohttp.ClientError as error:  # the connection broke: a replica died mid-turn
                raise RasaUnavailable(f"unreachable: {type(error).__name__}") from error
            self.replicas.mark_up(url)
            if status >= 400:
                # 401/403 here is a configuration error (RASA_AUTH_TOKEN), worth a warning, not a crash.
                logger.warning("rasa answered %s to %s %s", status, method, path.split("?")[0])
                raise RasaUnavailable(f"status {status}", retryable=status >= 500)
            try:
                return json.loads(raw)
            except ValueError as error:  # UnicodeDecodeError included
                raise RasaUnavailable("not JSON") from error
        raise failure

    async def send(self, sender: str, message: str, metadata: Optional[Dict[str, Any]] = None) -> List[Reply]:
        """One user message through the REST channel; the assistant's replies (never silence: see the class)."""
        failure = RasaUnavailable("no reply")
        # One id for the message, kept on every attempt: Rasa answers a second send of a turn it already
        # stored from its tracker (rasa_addons.turns), so a reply lost with a dead replica is not a turn
        # handled twice; and the undo below touches only this message's user event.
        turn = uuid.uuid4().hex
        body = {"sender": sender, "message": message, "metadata": {**(metadata or {}), "turn_id": turn}}
        for attempt, pause in enumerate((0.0, *self.retry_delays)):
            if pause:
                await asyncio.sleep(pause)
            try:
                replies = parse_replies(await self._request("POST", "/webhooks/rest/webhook", sender, json=body))
            except RasaUnavailable as error:
                if not error.retryable:
                    raise
                failure = error
                continue
            if replies or message.strip().startswith(RESTART):
                return replies
            logger.warning("rasa gave no reply (attempt %d): undoing the turn before trying again", attempt + 1)
            await self._undo(sender, turn)
        raise failure

    async def _undo(self, sender: str, turn: str) -> None:
        """Rewind the tracker past this attempt's user message, if Rasa recorded it and said nothing after."""
        try:
            events = await self.events(sender)
            users = [i for i, e in enumerate(events) if e.get("event") == "user"]
            if not users:
                return
            last = events[users[-1]]
            metadata = last.get("metadata") if isinstance(last.get("metadata"), dict) else {}
            after = events[users[-1] + 1 :]
            if metadata.get("turn_id") != turn or any(e.get("event") in ("bot", "rewind") for e in after):
                return
            loops = {e.get("name") for e in events if e.get("event") == "active_loop" and e.get("name")}
            if any(e.get("event") == "action" and e.get("name") in loops for e in after):
                # A form ran in this turn: Rasa already leaves a failed form turn out of the state (it folds
                # each form turn into the previous one), and a rewind would cut into the form's answers.
                return
            # Rasa's rewind also drops the action_listen before the user message (it is meant to be
            # followed by one, as after a fallback action): put it back so the tracker waits for the user.
            await self._append(sender, [{"event": "rewind"}, {"event": "action", "name": "action_listen"}])
        except RasaUnavailable as error:
            logger.warning("could not undo a failed turn (%s)", error)

    def _conversation(self, sender: str) -> str:
        return f"/conversations/{quote(sender, safe='')}/tracker"

    async def _append(self, sender: str, events: List[Dict[str, Any]]) -> None:
        await self._request("POST", f"{self._conversation(sender)}/events", sender, params={"token": self.token}, json=events)

    async def set_slot(self, sender: str, name: str, value: Any) -> None:
        await self._append(sender, [{"event": "slot", "name": name, "value": value}])

    async def events(self, sender: str) -> List[Dict[str, Any]]:
        """The conversation's events since its last restart (Rasa's default for the tracker endpoint)."""
        tracker = await self._request("GET", self._conversation(sender), sender, params={"token": self.token})
        events = tracker.get("events") if isinstance(tracker, dict) else None
        return [e for e in events or [] if isinstance(e, dict)]

    async def readiness(self) -> Dict[str, Dict[str, Any]]:
        """Each replica's own readiness (rasa_addons.health_channel): {url: {"status": ..., ...}}."""

        async def one(url: str) -> Dict[str, Any]:
            try:
                async with self._http().get(f"{url}/webhooks/health/ready",
                                            timeout=aiohttp.ClientTimeout(total=3.0)) as response:
                    body = json.loads(await response.read())
                return body if isinstance(body, dict) else {"status": "degraded"}
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
                return {"status": "unreachable", "error": type(error).__name__}

        results = await asyncio.gather(*(one(url) for url in self.replicas.urls))
        return dict(zip(self.replicas.urls, results, strict=True))
