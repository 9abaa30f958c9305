"""Passwords, server-side sessions, CSRF tokens, login rate limits and API tokens.

Sessions live in Redis under the SHA-256 of the cookie value, so logging out (deleting the key) really ends
the session, and a Redis dump does not hold usable cookies. Each session carries its own CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Optional

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bot.settings import settings
from bot.shared.redis_conn import KEY_PREFIX

COOKIE_NAME = "gzcp_staff"
LOGIN_CSRF_COOKIE = "gzcp_staff_login"  # double-submit token for the login form (no session yet)
MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the account does not exist, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-" + secrets.token_hex(8))


def session_ttl() -> int:
    return settings().staff_session_ttl_seconds


def cookie_secure() -> bool:
    return settings().staff_cookie_secure


# --- passwords --------------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password_hash: Optional[str], password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _key(*parts: str) -> str:
    return ":".join((KEY_PREFIX, "staff") + parts)


# --- sessions ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffSession:
    token_hash: str
    user_id: int
    csrf: str


class Sessions:
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def create(self, user_id: int) -> str:
        """A new session; returns the cookie value (never stored)."""
        token = secrets.token_urlsafe(32)
        data = {"user_id": user_id, "csrf": secrets.token_urlsafe(32), "created": time.time()}
        self.redis.set(_key("session", _digest(token)), json.dumps(data), ex=session_ttl())
        return token

    def get(self, token: Optional[str]) -> Optional[StaffSession]:
        if not token or len(token) > 200:
            return None
        key = _key("session", _digest(token))
        raw = self.redis.get(key)
        if raw is None:
            return None
        self.redis.expire(key, session_ttl())  # sliding expiry: an idle console logs out, a busy one does not
        data = json.loads(raw)
        return StaffSession(token_hash=_digest(token), user_id=int(data["user_id"]), csrf=str(data["csrf"]))

    def delete(self, token: Optional[str]) -> None:
        if token:
            self.redis.delete(_key("session", _digest(token)))


def csrf_matches(expected: Optional[str], given: Optional[str]) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected).encode(), str(given).encode())


# --- login rate limit --------------------------------------------------------------------------------


class LoginLimiter:
    """Failed logins counted per account and per client IP in fixed windows; too many and login is refused."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        config = settings()
        self.window = config.staff_login_window_seconds
        self.per_account = config.staff_login_max_per_account
        self.per_ip = config.staff_login_max_per_ip

    def _keys(self, email: str, ip: str) -> tuple[str, str]:
        # Hashed: the keys would otherwise put staff emails into Redis in clear.
        return _key("login", "account", _digest(email.strip().lower())), _key("login", "ip", _digest(ip))

    def blocked(self, email: str, ip: str) -> bool:
        account, address = self._keys(email, ip)
        counts = self.redis.mget(account, address)
        return int(counts[0] or 0) >= self.per_account or int(counts[1] or 0) >= self.per_ip

    def failed(self, email: str, ip: str) -> None:
        pipe = self.redis.pipeline()
        for key in self._keys(email, ip):
            pipe.incr(key)
            pipe.expire(key, self.window, nx=True)  # the window starts at the first failure
        pipe.execute()

    def succeeded(self, email: str, ip: str) -> None:
        self.redis.delete(self._keys(email, ip)[0])  # the IP count stays: one good account must not reset a spray


# --- API tokens -------------------------------------------------------------------------------------

API_TOKEN_PREFIX = "gzcp_"


def new_api_token() -> tuple[str, str]:
    """(token to show once, SHA-256 to store). Random 256 bits: a fast hash is enough, no salt needed."""
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, api_token_hash(token)


def api_token_hash(token: str) -> str:
    return _digest(token)
