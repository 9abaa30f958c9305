"""The WeChat API the channel calls: access tokens and customer-service (客服) text messages.

Access tokens come from `/cgi-bin/stable_token` (a POST, so the AppSecret never sits in a URL; and WeChat's
advice for several servers sharing one account) and are cached in Redis until shortly before they expire,
so every web app process uses the same one. One process fetches at a time (a short Redis lock); the others
wait for its result. A token WeChat calls invalid or expired is replaced once (only if no other process
replaced it already) and the message sent again.

wechatpy's own client is synchronous (requests) and puts the AppSecret in the query string, so this is a
small asyncio client on the app's httpx instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from typing import Any, Dict, Optional, Tuple

import httpx
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.shared.redis_conn import KEY_PREFIX

logger = logging.getLogger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the access token (in the URL)

DEFAULT_BASE_URL = "https://api.weixin.qq.com"
TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid credential, invalid token, token expired
EARLY_SECONDS = 300  # a cached token is dropped this long before WeChat's expiry
LOCK_SECONDS = 10
SEND_PAUSES = (0.5, 1.5)  # before the second and third try after a network failure
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class WeChatAPIError(Exception):
    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(f"errcode {errcode}: {errmsg[:200]}")
        self.errcode = errcode


class WeChatAPI:
    def __init__(self, http: httpx.AsyncClient, client: Optional[aioredis.Redis], app_id: str, app_secret: str,
                 base_url: str = "", prefix: str = KEY_PREFIX) -> None:
        self.http = http
        self.redis = client
        self.app_id = app_id
        self.app_secret = app_secret
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.key = f"{prefix}:wechat:access_token:{app_id}"
        self._local: Tuple[str, float] = ("", 0.0)  # for when Redis is down
        self.fetches = 0  # tokens fetched by this process (tests read it)

    # --- access tokens --------------------------------------------------------------------------------
    async def _fetch(self, force: bool) -> str:
        self.fetches += 1
        body = {"grant_type": "client_credential", "appid": self.app_id, "secret": self.app_secret, "force_refresh": force}
        data = await self._post("/cgi-bin/stable_token", body)
        token, expires = data.get("access_token"), data.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires, int):
            raise WeChatAPIError(int(data.get("errcode") or -1), str(data.get("errmsg") or "no access_token"))
        ttl = max(60, expires - EARLY_SECONDS)
        self._local = (token, time.monotonic() + ttl)
        if self.redis is not None:
            try:
                await self.redis.set(self.key, token, ex=ttl)
            except RedisError as error:
                logger.warning("wechat: token cache unavailable: %s", type(error).__name__)
        return token

    async def _cached(self) -> Optional[str]:
        if self.redis is not None:
            try:
                return await self.redis.get(self.key)
            except RedisError as error:
                logger.warning("wechat: token cache unavailable: %s", type(error).__name__)
        token, until = self._local
        return token if token and time.monotonic() < until else None

    async def access_token(self, replacing: Optional[str] = None) -> str:
        """The account's current access token; with `replacing`, one other than that (WeChat refused it)."""
        cached = await self._cached()
        if cached and cached != replacing:
            return cached
        if self.redis is None:
            return await self._fetch(force=replacing is not None)
        lock, mine = f"{self.key}:lock", secrets.token_hex(8)
        deadline = time.monotonic() + LOCK_SECONDS
        while True:
            try:
                got = await self.redis.set(lock, mine, nx=True, ex=LOCK_SECONDS)
            except RedisError:
                return await self._fetch(force=replacing is not None)
            if got:
                break
            await asyncio.sleep(0.05)  # another process is fetching: use its token
            cached = await self._cached()
            if cached and cached != replacing:
                return cached
            if time.monotonic() > deadline:
                return await self._fetch(force=replacing is not None)
        try:
            cached = await self._cached()  # fetched while we waited for the lock
            if cached and cached != replacing:
                return cached
            return await self._fetch(force=replacing is not None)
        finally:
            try:
                await self.redis.eval(_RELEASE, 1, lock, mine)
            except RedisError:
                pass

    # --- calls ------------------------------------------------------------------------------------------
    async def _post(self, path: str, body: Dict[str, Any], params: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
        # ensure_ascii=False: WeChat shows \\uXXXX escapes literally instead of the Chinese they stand for.
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        response = await self.http.post(f"{self.base_url}{path}", params=params, content=content,
                                        headers={"Content-Type": "application/json; charset=utf-8"})
        if response.status_code != 200:  # WeChat answers 200 with an errcode; anything else is on the way there
            raise WeChatAPIError(-1, f"HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise WeChatAPIError(-1, "not JSON") from None
        if not isinstance(data, dict):
            raise WeChatAPIError(-1, f"HTTP {response.status_code}, unexpected answer")
        return data

    async def send_text(self, openid: str, content: str) -> None:
        """A customer-service text message to the user (possible for 48 hours after they wrote). A network
        failure is tried again after a pause; a token WeChat refuses is replaced once."""
        body = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        refused: Optional[str] = None
        failures = 0
        while True:
            token = await self.access_token(replacing=refused)
            try:
                data = await self._post("/cgi-bin/message/custom/send", body, {"access_token": token})
            except (httpx.TransportError, WeChatAPIError) as error:
                if failures >= len(SEND_PAUSES):
                    raise WeChatAPIError(-1, f"WeChat API unreachable ({type(error).__name__})") from None
                await asyncio.sleep(SEND_PAUSES[failures])
                failures += 1
                continue
            errcode = int(data.get("errcode") or 0)
            if errcode == 0:
                return
            if errcode in TOKEN_ERRORS and refused is None:
                refused = token
                continue
            raise WeChatAPIError(errcode, str(data.get("errmsg") or ""))
