"""A fake WeChat: its API server (access tokens, customer-service messages) and its side of the callback
protocol (signed, optionally AES-encrypted XML posted to /api/wechat).

The callback side is written from WeChat's documentation with hashlib and `cryptography` directly, not with
the code under test or wechatpy, so the two implementations check each other. The API server listens on
loopback only (tests/fakes/server.py) and behaves like WeChat where it matters: tokens expire (42001), a
wrong AppSecret is refused (40125), a text over 2048 bytes is refused (45002), and a body with \\uXXXX escapes
is refused (WeChat would show the escapes instead of the Chinese).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import os
import secrets
import struct
import threading
import time
import xml.etree.ElementTree as ET
from typing import Any, Callable, Dict, List, Optional, Tuple

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TEXT_LIMIT = 2048


class FakeWeChatAPI:
    def __init__(self, app_id: str, app_secret: str, expires_in: int = 7200) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.expires_in = expires_in
        self.valid: set = set()
        self.token_requests: List[Dict[str, Any]] = []
        self.messages: List[Dict[str, Any]] = []  # customer-service messages accepted: {"touser", "msgtype", "content"}
        self.refused: List[Dict[str, Any]] = []
        self.fail_next = 0  # answer this many message calls with HTTP 502 (a network hiccup)
        self.delay = 0.0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.app = Starlette(routes=[
            Route("/cgi-bin/stable_token", self._token, methods=["POST"]),
            Route("/cgi-bin/message/custom/send", self._send, methods=["POST"]),
        ])

    # --- what tests call -----------------------------------------------------------------------------
    def expire_tokens(self) -> None:
        with self._lock:
            self.valid.clear()

    def sent(self, touser: Optional[str] = None) -> List[str]:
        with self._lock:
            return [m["content"] for m in self.messages if touser is None or m["touser"] == touser]

    def wait_for(self, condition: Callable[[], Any], timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            time.sleep(0.05)
        raise AssertionError("timed out waiting for the fake WeChat API")

    # --- the API ---------------------------------------------------------------------------------------
    async def _token(self, request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        with self._lock:
            self.token_requests.append({k: v for k, v in body.items() if k != "secret"})
        if body.get("grant_type") != "client_credential" or body.get("appid") != self.app_id:
            return JSONResponse({"errcode": 40013, "errmsg": "invalid appid"})
        if body.get("secret") != self.app_secret:
            return JSONResponse({"errcode": 40125, "errmsg": "invalid appsecret"})
        token = f"fake-token-{next(self._ids)}-{secrets.token_hex(4)}"
        with self._lock:
            self.valid.add(token)
        return JSONResponse({"access_token": token, "expires_in": self.expires_in})

    async def _send(self, request: Request) -> JSONResponse:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return JSONResponse({"message": "bad gateway"}, status_code=502)
        token = request.query_params.get("access_token", "")
        if token not in self.valid:
            return JSONResponse({"errcode": 42001, "errmsg": "access_token expired"})
        raw = await request.body()
        if b"\\u" in raw:
            self.refused.append({"reason": "escaped"})
            return JSONResponse({"errcode": 47001, "errmsg": "data format error (send UTF-8, not \\u escapes)"})
        body = json.loads(raw)
        content = (body.get("text") or {}).get("content", "")
        if len(content.encode("utf-8")) > TEXT_LIMIT:
            self.refused.append({"reason": "too long"})
            return JSONResponse({"errcode": 45002, "errmsg": "content size out of limit"})
        with self._lock:
            self.messages.append({"touser": body.get("touser"), "msgtype": body.get("msgtype"), "content": content})
        return JSONResponse({"errcode": 0, "errmsg": "ok"})


# --- WeChat's side of the callback protocol -------------------------------------------------------------
def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def query(token: str, timestamp: Optional[int] = None, nonce: Optional[str] = None, **extra: str) -> Dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or str(secrets.randbelow(10**9))
    return {"signature": sign(token, ts, nonce), "timestamp": ts, "nonce": nonce, **extra}


def text_xml(openid: str, content: str, msg_id: int, account: str = "gh_test_account") -> str:
    return (f"<xml><ToUserName><![CDATA[{account}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>")


def voice_xml(openid: str, recognition: str, msg_id: int, account: str = "gh_test_account") -> str:
    return (f"<xml><ToUserName><![CDATA[{account}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[voice]]></MsgType>"
            f"<MediaId><![CDATA[media]]></MediaId><Format><![CDATA[amr]]></Format>"
            f"<Recognition><![CDATA[{recognition}]]></Recognition><MsgId>{msg_id}</MsgId></xml>")


def image_xml(openid: str, msg_id: int, account: str = "gh_test_account") -> str:
    return (f"<xml><ToUserName><![CDATA[{account}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
            f"<PicUrl><![CDATA[http://127.0.0.1/x.jpg]]></PicUrl><MediaId><![CDATA[m]]></MediaId><MsgId>{msg_id}</MsgId></xml>")


def event_xml(openid: str, event: str, created: Optional[int] = None, account: str = "gh_test_account") -> str:
    return (f"<xml><ToUserName><![CDATA[{account}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time()) if created is None else created}</CreateTime>"
            f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event></xml>")


def _key(aes_key: str) -> bytes:
    return base64.b64decode(aes_key + "=")


def encrypt(xml: str, aes_key: str, app_id: str, random16: Optional[bytes] = None) -> str:
    """WeChat's safe-mode framing: 16 random bytes, the length (4 bytes, big-endian), the XML, the AppID;
    PKCS#7 padding to 32 bytes; AES-256-CBC with the key's first 16 bytes as IV; base64."""
    key = _key(aes_key)
    text = xml.encode("utf-8")
    plain = (random16 or os.urandom(16)) + struct.pack(">I", len(text)) + text + app_id.encode("ascii")
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")


def decrypt(encrypted: str, aes_key: str) -> Dict[str, str]:
    key = _key(aes_key)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    plain = plain[: -plain[-1]]
    length = struct.unpack(">I", plain[16:20])[0]
    return {"xml": plain[20 : 20 + length].decode("utf-8"), "app_id": plain[20 + length :].decode("ascii")}


def envelope(xml: str, token: str, aes_key: str, app_id: str) -> Tuple[Dict[str, str], str]:
    """(query, body) of a safe-mode delivery: the encrypted message and both signatures."""
    encrypted = encrypt(xml, aes_key, app_id)
    params = query(token, encrypt_type="aes")
    params["msg_signature"] = sign(token, params["timestamp"], params["nonce"], encrypted)
    body = f"<xml><ToUserName><![CDATA[gh_test_account]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    return params, body


def reply_fields(body: str, token: str = "", aes_key: str = "", app_id: str = "") -> Dict[str, str]:
    """The fields of a passive reply (decrypted, its MsgSignature checked, when it is a safe-mode one);
    {} for WeChat's empty answers ("success" or nothing)."""
    if body in ("", "success"):
        return {}
    fields = {child.tag: child.text or "" for child in ET.fromstring(body)}  # our own server's reply: trusted here
    if "Encrypt" in fields:
        assert fields["MsgSignature"] == sign(token, fields["TimeStamp"], fields["Nonce"], fields["Encrypt"]), "bad MsgSignature"
        inner = decrypt(fields["Encrypt"], aes_key)
        assert inner["app_id"] == app_id
        fields = {child.tag: child.text or "" for child in ET.fromstring(inner["xml"])}
    return fields
