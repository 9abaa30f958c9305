"""/api/wechat: the URL an Official Account's server configuration points at (see README "WeChat").

GET is WeChat's server check (the `echostr` comes back only when the signature matches). POST carries the
users' messages, plain or in safe mode (`encrypt_type=aes`). Every call is checked before its body is read:
signature (constant time) and timestamp (replay window); then the body's size, the XML (no DTD, no entities),
and in safe mode `msg_signature` and the decryption. A refused call changes nothing and gets a short plain-text
reason; nothing of its content is logged. With WECHAT_TOKEN empty the channel is off: 404.
"""

from __future__ import annotations

import logging
import re
import time
from contextlib import asynccontextmanager
from typing import AsyncIterator, Dict, Optional

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from bot.settings import settings
from bot.wechat.channel import WeChatChannel
from bot.wechat.protocol import MAX_BODY_BYTES, ProtocolError, SafeMode, check_request, inbound, text_reply

logger = logging.getLogger(__name__)
OFF = "The WeChat channel is not configured on this server (WECHAT_TOKEN is empty)."
_ECHO = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def _enabled() -> bool:
    return settings().wechat_enabled


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    if _enabled():
        app.state.wechat = WeChatChannel.from_settings()
    try:
        yield
    finally:
        channel = getattr(app.state, "wechat", None)
        if channel is not None:
            await channel.close()


router = APIRouter(prefix="/api/wechat", tags=["wechat"], lifespan=lifespan)


def _channel(request: Request) -> WeChatChannel:
    channel = getattr(request.app.state, "wechat", None)
    if channel is None:  # an app driven without its lifespan (a bare TestClient): make one on first use
        channel = request.app.state.wechat = WeChatChannel.from_settings()
    return channel


def _safe_mode() -> Optional[SafeMode]:
    config = settings()
    if not config.wechat_aes_key:
        return None
    return SafeMode(config.wechat_token, config.wechat_aes_key, config.wechat_app_id)


def _refuse(error: ProtocolError) -> Response:
    logger.warning("wechat: refused a call (%s): %s", error.status, error.reason)
    return PlainTextResponse(error.reason, status_code=error.status)


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ProtocolError(413, "body too large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ProtocolError(413, "body too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _params(request: Request) -> Dict[str, str]:
    return {key: request.query_params.get(key, "") for key in
            ("signature", "timestamp", "nonce", "echostr", "encrypt_type", "msg_signature")}


@router.get("", response_class=PlainTextResponse, responses={403: {"description": "signature or timestamp refused"},
                                                              404: {"description": "the channel is off"}})
async def verify(request: Request) -> Response:
    """WeChat's server check: echoes `echostr` when the signature over (token, timestamp, nonce) matches."""
    if not _enabled():
        return PlainTextResponse(OFF, status_code=404)
    params = _params(request)
    try:
        check_request(settings().wechat_token, params)
        if not _ECHO.match(params["echostr"]):
            raise ProtocolError(400, "missing or malformed echostr")
    except ProtocolError as error:
        return _refuse(error)
    return PlainTextResponse(params["echostr"])


@router.post("", responses={200: {"content": {"application/xml": {}}, "description": "a passive reply, or `success`"},
                            400: {"description": "malformed XML or undecryptable"}, 403: {"description": "signature"},
                            404: {"description": "the channel is off"}, 413: {"description": "body too large"}})
async def receive(request: Request) -> Response:
    """A user's message or event; the answer as a passive reply when it is ready in time, else `success` (empty)
    and the answer through the customer-service API."""
    started = time.monotonic()
    if not _enabled():
        return PlainTextResponse(OFF, status_code=404)
    params = _params(request)
    config = settings()
    try:
        check_request(config.wechat_token, params)  # before a byte of the body is read
        raw = await _read_body(request)
        safe = None
        if params["encrypt_type"] == "aes":
            safe = _safe_mode()
            if safe is None:
                raise ProtocolError(400, "safe mode needs WECHAT_AES_KEY on this server")
            raw = safe.decrypt(raw, params)
        elif params["encrypt_type"] not in ("", "raw"):
            raise ProtocolError(400, "unknown encrypt_type")
        message = inbound(raw)
    except ProtocolError as error:
        return _refuse(error)
    answer = await _channel(request).handle(message, started)
    if answer is None:
        return PlainTextResponse("success")  # WeChat's "received, nothing to add"
    xml = text_reply(message, answer)
    if safe is not None:
        xml = safe.encrypt(xml)
    return Response(xml, media_type="application/xml")
