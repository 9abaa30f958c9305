"""WeChat messages in, the assistant's answers out, within WeChat's 5-second rule.

WeChat waits 5 seconds for the HTTP answer to its callback (the passive reply), then retries. So each turn
runs as a task: when its answer is ready within WECHAT_REPLY_SECONDS and fits one message, it is the passive
reply; otherwise the callback is answered empty at the deadline and the task sends the answer through the
customer-service message API when it has it. A user's turns run one at a time and in order, the sending
included, so a late answer never overtakes the next one.

Conversations go through ChatService (language, retries, per-conversation order) as sender
`wechat-<derived id>`: an HMAC of the OpenID (bot.chat.identity), so the OpenID never reaches Rasa, the
logs, the metrics or staff. It is only held in memory while a turn's answer is being sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable, List, Optional, Set, Tuple

import httpx
import redis.asyncio as aioredis

from bot.chat import identity
from bot.chat.locks import KeyedLocks
from bot.chat.rasa import RasaClient, RasaUnavailable
from bot.chat.service import GREET, ChatService
from bot.chat.store import LanguageMemory, async_redis_from_env
from bot.metrics.chat import observe_turn
from bot.settings import settings
from bot.shared.channels import WECHAT
from bot.shared.replies import Button, Reply
from bot.wechat.api import WeChatAPI, WeChatAPIError
from bot.wechat.choices import MAX_CHOICES, Choices, Menu, menu_for
from bot.wechat.deliveries import Deliveries
from bot.wechat.protocol import Inbound
from bot.wechat.text import ENGLISH_HINT, messages, unavailable, word

logger = logging.getLogger(__name__)

Answer = Callable[[], Awaitable[List[str]]]  # a turn: the messages to send the user
SUBSCRIBE_EVENTS = ("subscribe", "subscribe_scan")  # following the account (directly, or by a QR code)
CLOSE_WAIT_SECONDS = 10.0


def sender_of(openid: str) -> str:
    """Rasa, the logs and staff see a derived id, never the OpenID (bot.chat.identity)."""
    return WECHAT.sender(identity.derive("wechat", openid))


def render(replies: List[Reply], language: str) -> Tuple[List[str], Optional[Menu]]:
    """The replies as text blocks, their buttons as one numbered (or lettered) list across the turn."""
    buttons: List[Button] = [b for r in replies for b in r.buttons][:MAX_CHOICES]
    menu = menu_for(buttons) if buttons else None
    blocks, shown = [], 0
    for reply in replies:
        lines = [reply.text] if reply.text.strip() else []
        for button in reply.buttons:
            if menu is not None and shown < len(buttons):
                lines.append(f"{menu.label(shown)}. {button.title or button.payload}")
                shown += 1
        if lines:
            blocks.append("\n".join(lines))
    if menu is not None and blocks:
        blocks[-1] += "\n" + word("choose_letter" if menu.letters else "choose_number", language)
    return blocks, menu


class WeChatChannel:
    def __init__(self, service: ChatService, api: WeChatAPI, redis: Optional[aioredis.Redis],
                 reply_seconds: float, max_chars: int, http: Optional[httpx.AsyncClient] = None) -> None:
        self.service = service
        self.api = api
        self.redis = redis
        self.choices = Choices(redis, settings().tracker_ttl_seconds)
        self.deliveries = Deliveries(redis)
        self.reply_seconds = reply_seconds
        self.max_chars = max_chars
        self._http = http
        self._locks = KeyedLocks()
        self._tasks: Set[asyncio.Task] = set()

    @classmethod
    def from_settings(cls) -> WeChatChannel:
        config = settings()
        http = httpx.AsyncClient(timeout=httpx.Timeout(config.chat_rasa_timeout_seconds, connect=3.0))
        redis = async_redis_from_env()
        api = WeChatAPI(http, redis, config.wechat_app_id, config.wechat_app_secret, config.wechat_api_base_url)
        service = ChatService(RasaClient.from_env(), LanguageMemory(redis))
        return cls(service, api, redis, config.wechat_reply_seconds, config.chat_max_message_chars, http)

    async def close(self) -> None:
        """Let answers on their way finish (briefly), then close the clients."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=CLOSE_WAIT_SECONDS)
        for task in set(self._tasks):
            task.cancel()
        if self._http is not None:
            await self._http.aclose()
        await self.service.rasa.aclose()
        if self.redis is not None:
            await self.redis.aclose()

    # --- one delivery ----------------------------------------------------------------------------------
    async def handle(self, message: Inbound, started: Optional[float] = None) -> Optional[str]:
        """The passive reply for this delivery, or None for an empty one (nothing to say, said already, or
        coming through the customer-service API). `started`: when the request arrived (time.monotonic())."""
        started = time.monotonic() if started is None else started
        if not await self.deliveries.claim(message):
            return await self.deliveries.reply_of(message)  # WeChat's retry, or a replay: handled once
        answer = self._answer_for(message)
        if answer is None:
            return None
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[List[str]] = loop.create_future()
        passive: asyncio.Future[bool] = loop.create_future()
        task = asyncio.create_task(self._turn(message, answer, ready, passive))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            remaining = self.reply_seconds - (time.monotonic() - started)
            try:
                texts = await asyncio.wait_for(asyncio.shield(ready), timeout=max(0.0, remaining))
            except asyncio.TimeoutError:
                logger.warning("wechat: the answer took over %.1f s; it goes through the customer-service API",
                               self.reply_seconds)
                return None
            if len(texts) != 1:
                return None  # several messages: all through the API, in order
            passive.set_result(True)
            await self.deliveries.remember_reply(message, texts[0])
            return texts[0]
        finally:
            if not passive.done():
                passive.set_result(False)

    async def _turn(self, message: Inbound, answer: Answer, ready: asyncio.Future, passive: asyncio.Future) -> None:
        async with self._locks(sender_of(message.openid)):
            try:
                texts = await answer()
            except Exception as error:  # never silence; type only: a traceback's locals could hold what was typed
                logger.error("wechat: a turn failed: %s", type(error).__name__)
                texts = [unavailable("zh")]
            ready.set_result(texts)
            if await passive:
                return
            await self._push(message.openid, texts)

    async def _push(self, openid: str, texts: List[str]) -> None:
        for text in texts:
            try:
                await self.api.send_text(openid, text)
            except (WeChatAPIError, httpx.HTTPError) as error:
                logger.warning("wechat: customer-service message not sent: %s", error)
                return

    # --- what each kind of message gets -----------------------------------------------------------------
    def _answer_for(self, message: Inbound) -> Optional[Answer]:
        sender = sender_of(message.openid)
        if message.kind == "text" and message.text.strip():
            return lambda: self._converse(sender, message.text)
        if message.kind == "voice":  # WeChat's speech recognition, when the account has it switched on
            if message.text.strip():
                return lambda: self._converse(sender, message.text)
            return lambda: self._say(sender, "voice_unclear")
        if message.kind == "event":
            if message.event in SUBSCRIBE_EVENTS:
                return lambda: self._greet(sender)
            return None  # unsubscribe, menu views, location reports: nothing to say
        return lambda: self._say(sender, "text_only")  # images, video, links, locations, files

    async def _language(self, sender: str) -> str:
        return await self.service.language_of(sender) or "zh"  # a WeChat user who wrote no words yet: Chinese

    async def _say(self, sender: str, key: str) -> List[str]:
        return [word(key, await self._language(sender))]

    async def _relay(self, sender: str, text: str, language: str, extra: Tuple[str, ...] = ()) -> List[str]:
        try:
            async with observe_turn(self.redis, WECHAT.name):  # gzcp_chat_messages_total{channel="wechat"}
                turn = await self.service.converse(sender, text, language)
        except RasaUnavailable as error:
            logger.warning("wechat: rasa unavailable for a user (%s)", error)
            return [unavailable(language)]
        blocks, menu = render(turn.replies, turn.language)
        await self.choices.show(sender, menu)
        return messages([*blocks, *extra])

    async def _converse(self, sender: str, typed: str) -> List[str]:
        text = typed.strip()[: self.max_chars]
        payload = await self.choices.pick(sender, text)  # "2" answering the list shown last
        return await self._relay(sender, payload or text, await self._language(sender))

    async def _greet(self, sender: str) -> List[str]:
        """A new follower: the assistant's greeting in Chinese, and a line saying English works too."""
        return await self._relay(sender, GREET, "zh", extra=(ENGLISH_HINT,))
