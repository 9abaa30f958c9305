"""Who a conversation is, without anyone else being able to claim it.

The web widget holds a **conversation token** the server issued: 128 random bits and an HMAC tag over them
(CONVERSATION_SECRET), so a client cannot choose or guess one, and the server checks it without a lookup.
It travels only in the `X-Chat-Session` header, never in a URL. Everything else — Rasa, logs, metrics, the
staff console, the lead record — sees only the **derived id**, an HMAC of the token, which cannot be turned
back into a token. Telegram chat ids are derived the same way, so a chat id never reaches Rasa either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Optional

from bot.settings import settings

HEADER = "X-Chat-Session"
TOKEN_BYTES = 16  # 128 bits of randomness
TAG_BYTES = 16
DERIVED_CHARS = 32  # hex of the derived id: 128 bits
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$")


def _secret() -> bytes:
    return settings().conversation_secret.encode("utf-8")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _tag(nonce: str) -> str:
    return _b64(hmac.new(_secret(), b"token:" + nonce.encode("ascii"), hashlib.sha256).digest()[:TAG_BYTES])


def issue_token() -> str:
    """A new conversation token for a browser that has none (or sent one the server did not issue)."""
    nonce = _b64(secrets.token_bytes(TOKEN_BYTES))
    return f"{nonce}.{_tag(nonce)}"


def token_valid(token: Optional[str]) -> bool:
    if not token or not _TOKEN.match(token):
        return False
    nonce, tag = token.split(".")
    return hmac.compare_digest(tag, _tag(nonce))


def derive(kind: str, value: str) -> str:
    """The id the rest of the system knows a conversation by: HMAC(secret, kind:value), hex."""
    digest = hmac.new(_secret(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return digest[:DERIVED_CHARS]


def conversation_of(token: str) -> str:
    """The derived id of a valid web token (check token_valid first)."""
    return derive("web", token)
