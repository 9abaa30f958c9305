"""Passwords, server-side sessions, CSRF tokens, login rate limits and API tokens.

Sessions live in Redis under the SHA-256 of the cookie value, so logging out (deleting the key) really ends
the session, and a Redis dump does not hold usable cookies. Each session carries its own CSRF token, the
time it was created and the user's `session_version` at login. A session ends when:
- it was idle for STAFF_SESSION_TTL_SECONDS (the key's TTL; only page and form requests refresh it, the
  live-updates stream does not);
- it is older than STAFF_SESSION_MAX_SECONDS, however busy (checked against its creation time, and the
  key's TTL never reaches past that moment);
- the user's password, role or active flag changed: the ORM bumps `session_version` (bot/staff/models.py)
  and the session's recorded version no longer matches (bot/staff/auth.py), so deactivating and then
  reactivating a user does not bring an old cookie back.

Login attempts (LoginLimiter) are counted before the password is checked, in one Lua script, so parallel
guesses cannot all slip through before the first failure is recorded. Every attempt is reserved as a
failure up front; a correct password gives its reservation back. Three counters, all in a window of
STAFF_LOGIN_WINDOW_SECONDS and under hashed names (no email or address in Redis):
- per account and client address: the first STAFF_LOGIN_FREE_FAILURES failures are free; from then on each
  further attempt from that address for that account must wait STAFF_LOGIN_BACKOFF_SECONDS, doubling with
  every failure, at most the window (429 with Retry-After). This is what slows a guesser down, and it only
  slows the address that is failing: the owner logging in from elsewhere is not affected;
- per account, all addresses together: beyond STAFF_LOGIN_MAX_PER_ACCOUNT failures (a distributed attack)
  the free failures drop to one, so every address that has failed for this account waits after each
  failure. It never refuses an address that has not failed for the account: it alone cannot lock the
  owner out;
- per client address, all accounts together: beyond STAFF_LOGIN_MAX_PER_IP failures (password spraying)
  that address is refused until its window ends. Behind a shared NAT this can slow the owner too; that is
  the price of a spraying limit, and it ends with the window.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
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
    """Idle timeout."""
    return settings().staff_session_ttl_seconds


def session_max_age() -> int:
    """Absolute lifetime, however busy the session is (also the cookie's Max-Age)."""
    return settings().staff_session_max_seconds


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
    version: int  # the user's session_version at login
    created: float  # Unix time


class Sessions:
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def create(self, user_id: int, version: int) -> str:
        """A new session; returns the cookie value (never stored)."""
        token = secrets.token_urlsafe(32)
        data = {"user_id": user_id, "csrf": secrets.token_urlsafe(32), "created": time.time(), "version": version}
        self.redis.set(_key("session", _digest(token)), json.dumps(data), ex=min(session_ttl(), session_max_age()))
        return token

    def get(self, token: Optional[str]) -> Optional[StaffSession]:
        """The session for this cookie, or None (unknown, idle too long or past its absolute lifetime).

        Does not refresh the idle timeout: `touch` does, for requests a person made."""
        if not token or len(token) > 200:
            return None
        key = _key("session", _digest(token))
        raw = self.redis.get(key)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            found = StaffSession(token_hash=_digest(token), user_id=int(data["user_id"]), csrf=str(data["csrf"]),
                                 version=int(data.get("version", -1)), created=float(data.get("created", 0)))
        except (ValueError, TypeError, KeyError):
            found = None  # not written by this code: end it
        if found is None or self._remaining(found) <= 0:
            self.redis.delete(key)
            return None
        return found

    def touch(self, session: StaffSession) -> None:
        """Sliding idle expiry (an idle console logs out, a busy one does not), never past the absolute lifetime."""
        remaining = self._remaining(session)
        if remaining > 0:
            self.redis.expire(_key("session", session.token_hash), max(1, math.ceil(min(session_ttl(), remaining))))

    def end(self, session: StaffSession) -> None:
        self.redis.delete(_key("session", session.token_hash))

    def delete(self, token: Optional[str]) -> None:
        if token:
            self.redis.delete(_key("session", _digest(token)))

    @staticmethod
    def _remaining(session: StaffSession) -> float:
        return session.created + session_max_age() - time.time()


def csrf_matches(expected: Optional[str], given: Optional[str]) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected).encode(), str(given).encode())


# --- login rate limit --------------------------------------------------------------------------------


# KEYS: address, account+address, account. ARGV: free failures, max per account, max per address, window,
# first back-off. Returns {1, 0} when the attempt may go on to the password check, else {0, retry_after}.
_ATTEMPT = """
if redis.replicate_commands then pcall(redis.replicate_commands) end -- Redis < 7: TIME before writes
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local free, per_account, per_ip = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local window, base = tonumber(ARGV[4]), tonumber(ARGV[5])
local function wait(failures, allowance) -- after `failures`, how long until the next try
  if failures < allowance then return 0 end
  return math.min(window, base * 2 ^ (failures - allowance))
end
if tonumber(redis.call('GET', KEYS[1]) or '0') >= per_ip then
  local ttl = redis.call('TTL', KEYS[1])
  if ttl < 1 then ttl = window end
  return {0, ttl}
end
if tonumber(redis.call('GET', KEYS[3]) or '0') >= per_account then free = 1 end
local failures = tonumber(redis.call('HGET', KEYS[2], 'failures') or '0')
local wait_until = tonumber(redis.call('HGET', KEYS[2], 'last') or '0') + wait(failures, free)
if failures > 0 and now < wait_until then
  return {0, math.max(1, math.ceil(wait_until - now - 0.001))} -- whole seconds, not one more for rounding
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], window, 'NX')
redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], window, 'NX')
failures = redis.call('HINCRBY', KEYS[2], 'failures', 1)
redis.call('HSET', KEYS[2], 'last', string.format('%.6f', now))
redis.call('EXPIRE', KEYS[2], window + math.ceil(wait(failures, free))) -- forgotten a window after the wait
return {1, 0}
"""

# KEYS as above. A correct password: the pair starts afresh, the other two counters get this attempt back.
_SUCCEEDED = """
redis.call('DEL', KEYS[2])
for _, key in ipairs({KEYS[1], KEYS[3]}) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 1
"""


@dataclass(frozen=True)
class LoginDecision:
    allowed: bool
    retry_after: int = 0  # seconds, when not allowed


class LoginLimiter:
    """Login attempts counted atomically before the password check; see the module's docstring for the rules."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        config = settings()
        self.window = config.staff_login_window_seconds
        self.free = config.staff_login_free_failures
        self.backoff = config.staff_login_backoff_seconds
        self.per_account = config.staff_login_max_per_account
        self.per_ip = config.staff_login_max_per_ip

    def _keys(self, email: str, ip: str) -> list[str]:
        # Hashed: the keys would otherwise put staff emails and client addresses into Redis in clear.
        account = _digest(email.strip().lower())
        return [_key("login", "ip", _digest(ip)), _key("login", "pair", _digest(f"{account}\n{ip}")),
                _key("login", "account", account)]

    def attempt(self, email: str, ip: str) -> LoginDecision:
        """Count this attempt (as a failure until `succeeded` says otherwise), or refuse it with a wait."""
        script = self.redis.register_script(_ATTEMPT)  # EVALSHA, loading the script when Redis lacks it
        allowed, retry_after = script(keys=self._keys(email, ip),
                                      args=[self.free, self.per_account, self.per_ip, self.window, repr(float(self.backoff))])
        return LoginDecision(bool(int(allowed)), int(retry_after))

    def succeeded(self, email: str, ip: str) -> None:
        self.redis.register_script(_SUCCEEDED)(keys=self._keys(email, ip))


# --- API tokens -------------------------------------------------------------------------------------

API_TOKEN_PREFIX = "gzcp_"


def new_api_token() -> tuple[str, str]:
    """(token to show once, SHA-256 to store). Random 256 bits: a fast hash is enough, no salt needed."""
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, api_token_hash(token)


def api_token_hash(token: str) -> str:
    return _digest(token)
