"""The chat gateway: the widget's only way to the assistant (Rasa itself is never exposed).

POST /api/chat forwards one message to Rasa's REST webhook as sender `web-<derived id>`; GET /api/chat/history
replays the conversation from Rasa's tracker. The conversation is the server-issued token in the
`X-Chat-Session` header (bot.chat.identity): a request without a valid one starts a new conversation and gets
its token back as `session` in the body; Rasa and the logs only ever see the derived id. The body is parsed by hand so
that every bad input (not JSON, binary, too big, wrong fields) gets a clear 4xx, never a 500.
CORS is answered here, for the origins in CHAT_ALLOWED_ORIGINS only, so other routes stay closed.
"""

from __future__ import annotations

import json
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator, Dict, List, Optional, Tuple

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from bot.chat import identity
from bot.chat.rasa import RasaClient, RasaUnavailable
from bot.chat.schemas import ChatIn, ChatOut, ErrorOut, HistoryOut, clean_text
from bot.chat.service import ChatService, welcome
from bot.chat.store import LanguageMemory, RateLimiter, async_redis_from_env
from bot.metrics.chat import flush, observed, rasa_timer
from bot.settings import settings
from bot.shared.channels import WEB
from bot.shared.metrics import PENDING
from bot.shared.redis_conn import conversation_keys
from bot.shared.replies import Reply

logger = logging.getLogger(__name__)

ERRORS: Dict[str, Tuple[int, str, str]] = {
    "invalid_json": (400, 'The request body must be JSON: {{"message": ...}}.', "请求内容必须是 JSON 格式。"),
    "forbidden_origin": (403, "This site may not use the chat.", "此网站无权使用聊天服务。"),
    "too_large": (
        413,
        "Your message is too long. Please shorten it to {limit} characters.",
        "消息过长，请缩短到 {limit} 个字符以内。",
    ),
    "invalid": (422, "{detail}", "请求无效：{detail}"),
    "empty": (422, "Please type a message.", "请输入消息内容。"),
    "rate_limited": (
        429,
        "You are sending messages too quickly. Please wait {retry} seconds and try again.",
        "您发送消息过于频繁，请等待 {retry} 秒后再试。",
    ),
    "unavailable": (
        503,
        "The assistant is not available right now. Please try again in a few minutes.",
        "智能助手暂时无法使用，请几分钟后再试。",
    ),
}


@dataclass(frozen=True)
class ChatSettings:
    max_chars: int
    per_session: int
    per_ip: int
    allowed_origins: Tuple[str, ...]
    timeout: float

    @classmethod
    def from_env(cls) -> ChatSettings:
        config = settings()
        return cls(
            max_chars=config.chat_max_message_chars,
            per_session=config.chat_rate_per_minute,
            per_ip=config.chat_rate_per_minute_ip,
            allowed_origins=tuple(config.chat_allowed_origins),
            timeout=config.chat_rasa_timeout_seconds,
        )

    @property
    def max_body_bytes(self) -> int:
        return self.max_chars * 6 + 2048  # \uXXXX escapes are 6 bytes a character, plus the other fields


class Gateway:
    """What the routes share for the app's lifetime: one client to the Rasa replicas, one Redis client."""

    def __init__(self, settings: Optional[ChatSettings] = None) -> None:
        self.settings = settings or ChatSettings.from_env()
        self.rasa = RasaClient.from_env(timeout=self.settings.timeout)
        self.redis = async_redis_from_env()
        self.service = ChatService(self.rasa, LanguageMemory(self.redis))
        self.limiter = RateLimiter(self.redis)

    async def close(self) -> None:
        await self.rasa.aclose()
        await flush(self.redis)  # the last messages' counts
        await self.redis.aclose()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.chat_gateway = Gateway()
    try:
        yield
    finally:
        await app.state.chat_gateway.close()


router = APIRouter(prefix="/api/chat", tags=["chat"], lifespan=lifespan)


def _gateway(request: Request) -> Gateway:
    gateway = getattr(request.app.state, "chat_gateway", None)
    if gateway is None:  # an app driven without its lifespan (a bare TestClient): make one on first use
        gateway = request.app.state.chat_gateway = Gateway()
    return gateway


def _cors_headers(request: Request, settings: ChatSettings) -> Dict[str, str]:
    origin = request.headers.get("origin")
    if origin and (origin.rstrip("/") in settings.allowed_origins or "*" in settings.allowed_origins):
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {"Vary": "Origin"}


def _origin_allowed(request: Request, settings: ChatSettings) -> bool:
    """No Origin (curl, same-origin GET) or our own host or a configured one. Stops a foreign page's
    simple (text/plain, no preflight) POST from spending Rasa's time."""
    origin = request.headers.get("origin")
    if not origin:
        return True
    if origin.split("://", 1)[-1].rstrip("/") == request.headers.get("host"):
        return True
    return "Access-Control-Allow-Origin" in _cors_headers(request, settings)


def _error(
    request: Request, settings: ChatSettings, code: str, headers: Optional[Dict[str, str]] = None, **values: object
) -> JSONResponse:
    status, en, zh = ERRORS[code]
    body = {"error": code, "message": {"en": en.format(**values), "zh": zh.format(**values)}}
    return JSONResponse(body, status_code=status, headers={**_cors_headers(request, settings), **(headers or {})})


def _session(request: Request) -> Tuple[str, str]:
    """(token, derived id) of this request's conversation: the one its X-Chat-Session header holds when the
    server issued it, else a new one (a forged or stale token reaches nobody's conversation)."""
    token = request.headers.get(identity.HEADER, "")
    if not identity.token_valid(token):
        token = identity.issue_token()
    return token, identity.conversation_of(token)


def _messages(replies: List[Reply]) -> List[Dict[str, object]]:
    return [{"text": r.text, "buttons": [{"title": b.title, "payload": b.payload} for b in r.buttons]} for r in replies]


async def _read_body(request: Request, limit: int) -> Optional[bytes]:
    """The body, or None when it passes `limit` bytes (read in chunks: a huge upload is never held whole)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _rate_limited(request: Request, gateway: Gateway, session_scope: str, session_id: Optional[str]) -> int:
    ip = request.client.host if request.client else "unknown"
    retry = await gateway.limiter.hit(f"{session_scope}-ip", ip, gateway.settings.per_ip)
    if not retry and session_id:
        retry = await gateway.limiter.hit(session_scope, session_id, gateway.settings.per_session)
    return retry


_ERROR_RESPONSES = {
    400: {"model": ErrorOut},
    403: {"model": ErrorOut},
    413: {"model": ErrorOut},
    422: {"model": ErrorOut},
    429: {"model": ErrorOut, "description": "too many messages; see Retry-After"},
    503: {"model": ErrorOut, "description": "Rasa is unreachable or timed out"},
}


@router.post("", response_model=ChatOut, responses=_ERROR_RESPONSES)
@observed("web", lambda request: _gateway(request).redis)  # gzcp_chat_messages_total and the wait for Rasa
async def chat(request: Request) -> Response:
    """Send one message ({session_id, message, lang?}); the assistant's replies ({messages: [{text, buttons}]})."""
    gateway = _gateway(request)
    settings = gateway.settings
    if not _origin_allowed(request, settings):
        return _error(request, settings, "forbidden_origin")
    raw = await _read_body(request, settings.max_body_bytes)
    if raw is None:
        return _error(request, settings, "too_large", limit=settings.max_chars)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: "[[[[…" nested thousands deep
        return _error(request, settings, "invalid_json")
    try:
        body = ChatIn.model_validate(data)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(p) for p in problem.get("loc", ())) or "body"
        return _error(
            request, settings, "invalid", detail=f"{where}: {str(problem.get('msg', 'invalid')).removeprefix('Value error, ')}"
        )
    message = clean_text(body.message)
    if not message:
        return _error(request, settings, "empty")
    if len(message) > settings.max_chars:
        return _error(request, settings, "too_large", limit=settings.max_chars)
    token, conversation = _session(request)
    sender = WEB.sender(conversation)
    ip = request.client.host if request.client else "unknown"
    # One round trip: both rate limits, the language this conversation last told Rasa, and the metrics of the
    # messages before this one (bot.metrics.chat).
    retry, remembered = await gateway.limiter.gate(
        [("web-ip", ip, settings.per_ip), ("web", conversation, settings.per_session)], conversation_keys(sender).language,
        PENDING,
    )
    if retry:
        return _error(request, settings, "rate_limited", headers={"Retry-After": str(retry)}, retry=retry)
    try:
        with rasa_timer():
            turn = await gateway.service.converse(sender, message, body.lang, remembered=remembered)
    except RasaUnavailable as error:
        logger.warning("chat: rasa unavailable (%s)", error)
        return _error(request, settings, "unavailable")
    return JSONResponse(
        {"messages": _messages(turn.replies), "language": turn.language, "session": token},
        headers=_cors_headers(request, settings),
    )


@router.get("/history", response_model=HistoryOut, responses=_ERROR_RESPONSES)
async def history(
    request: Request,
    lang: str = Query("", description="en or zh: the language of the welcome and of button titles"),
) -> Response:
    """The conversation so far (from Rasa's tracker) and the welcome the widget shows when it is empty."""
    gateway = _gateway(request)
    settings = gateway.settings
    if not _origin_allowed(request, settings):
        return _error(request, settings, "forbidden_origin")
    retry = await _rate_limited(request, gateway, "history", None)
    if retry:
        return _error(request, settings, "rate_limited", headers={"Retry-After": str(retry)}, retry=retry)
    token, conversation = _session(request)
    sender = WEB.sender(conversation)
    try:
        language = lang if lang in ("en", "zh") else (await gateway.service.language_of(sender) or "en")
        items = await gateway.service.history(sender, language)
    except RasaUnavailable as error:
        logger.warning("chat history: rasa unavailable (%s)", error)
        return _error(request, settings, "unavailable")
    greeting = welcome(language)
    body = {
        "session": token,
        "language": language,
        "messages": [{"sender": i.sender, **_messages([Reply(i.text, i.buttons)])[0]} for i in items],
        "welcome": _messages([greeting])[0],
    }
    return JSONResponse(body, headers=_cors_headers(request, settings))


@router.options("", include_in_schema=False)
@router.options("/history", include_in_schema=False)
async def preflight(request: Request) -> Response:
    """CORS preflight: allowed origins get POST/GET with a JSON body; others get no CORS headers."""
    settings = _gateway(request).settings
    headers = _cors_headers(request, settings)
    if "Access-Control-Allow-Origin" in headers:
        headers.update(
            {
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": f"Content-Type, {identity.HEADER}",
                "Access-Control-Max-Age": "600",
            }
        )
    return Response(status_code=204, headers=headers)
