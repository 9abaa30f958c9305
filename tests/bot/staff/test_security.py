"""Passwords, Redis sessions, the login rate limit and API token storage."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from bot.staff import security


def test_passwords_are_argon2_hashed_and_checked() -> None:
    digest = security.hash_password("a long enough password")
    assert digest.startswith("$argon2id$") and "a long enough password" not in digest
    assert security.verify_password(digest, "a long enough password")
    assert not security.verify_password(digest, "a long enough passwort")
    assert not security.verify_password(None, "a long enough password")  # unknown account
    assert not security.verify_password("not a hash", "whatever")
    with pytest.raises(ValueError, match="at least 12"):
        security.hash_password("short")


def test_sessions_live_in_redis_under_a_hash_and_end_on_delete(staff_env: redis.Redis, monkeypatch) -> None:
    monkeypatch.setenv("STAFF_SESSION_TTL_SECONDS", "120")
    sessions = security.Sessions(staff_env)
    token = sessions.create(7, 3)
    keys = list(staff_env.scan_iter("gzcp:staff:session:*"))
    assert len(keys) == 1 and token not in keys[0]  # the cookie value itself is not stored
    assert 0 < staff_env.ttl(keys[0]) <= 120
    found = sessions.get(token)
    assert found is not None and found.user_id == 7 and found.version == 3 and len(found.csrf) > 30
    assert abs(found.created - time.time()) < 5
    assert sessions.get(token + "x") is None and sessions.get(None) is None
    sessions.delete(token)
    assert sessions.get(token) is None


def test_only_touch_refreshes_the_idle_timeout(staff_env: redis.Redis, monkeypatch) -> None:
    monkeypatch.setenv("STAFF_SESSION_TTL_SECONDS", "600")
    sessions = security.Sessions(staff_env)
    token = sessions.create(7, 0)
    key = next(staff_env.scan_iter("gzcp:staff:session:*"))
    staff_env.expire(key, 50)
    found = sessions.get(token)
    assert found is not None and staff_env.ttl(key) <= 50  # reading is not activity
    sessions.touch(found)
    assert 590 <= staff_env.ttl(key) <= 600


def test_a_session_ends_at_its_absolute_lifetime_however_busy(staff_env: redis.Redis, monkeypatch) -> None:
    monkeypatch.setenv("STAFF_SESSION_TTL_SECONDS", "600")
    monkeypatch.setenv("STAFF_SESSION_MAX_SECONDS", "3600")
    sessions = security.Sessions(staff_env)
    token = sessions.create(7, 0)
    key = next(staff_env.scan_iter("gzcp:staff:session:*"))

    def age_to(seconds: float) -> None:
        data = json.loads(staff_env.get(key))
        data["created"] = time.time() - seconds
        staff_env.set(key, json.dumps(data), keepttl=True)

    age_to(3600 - 30)  # 30 s to go: a request still works, and the idle refresh does not reach past the end
    found = sessions.get(token)
    assert found is not None
    sessions.touch(found)
    assert 0 < staff_env.ttl(key) <= 30
    age_to(3601)
    assert sessions.get(token) is None and staff_env.exists(key) == 0  # ended, and its key removed
    # Sessions without a creation time or version (written before these rules) end too.
    token = sessions.create(8, 0)
    key = [k for k in staff_env.scan_iter("gzcp:staff:session:*")][0]
    staff_env.set(key, json.dumps({"user_id": 8, "csrf": "x" * 40}))
    assert sessions.get(token) is None


def test_csrf_comparison() -> None:
    assert security.csrf_matches("abc", "abc")
    assert not security.csrf_matches("abc", "abd")
    assert not security.csrf_matches("", "") and not security.csrf_matches("abc", None)


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in (("FREE_FAILURES", "2"), ("BACKOFF_SECONDS", "10"), ("MAX_PER_ACCOUNT", "20"),
                        ("MAX_PER_IP", "20"), ("WINDOW_SECONDS", "900")):
        monkeypatch.setenv(f"STAFF_LOGIN_{name}", value)
    return monkeypatch


def _wait_over(client: redis.Redis, email: str, ip: str) -> None:
    """Pretend the back-off has passed: the pair's last failure long ago (the failures stay counted)."""
    key = security.LoginLimiter(client)._keys(email, ip)[1]
    client.hset(key, "last", "0")


def test_failures_from_one_address_back_off_exponentially(staff_env: redis.Redis, limits) -> None:
    limiter = security.LoginLimiter(staff_env)
    ann, ip = "ann@staff.example", "10.0.0.1"
    assert limiter.attempt(ann, ip).allowed and limiter.attempt(ann, ip).allowed  # the free failures
    waits = []
    for _ in range(4):
        refused = limiter.attempt(ann, ip)
        assert not refused.allowed
        waits.append(refused.retry_after)
        _wait_over(staff_env, ann, ip)
        assert limiter.attempt(ann, ip).allowed  # after the wait, one more try (counted)
    assert all(expected - 2 <= wait <= expected for wait, expected in zip(waits, (10, 20, 40, 80), strict=True)), waits
    for _ in range(6):
        _wait_over(staff_env, ann, ip)
        limiter.attempt(ann, ip)
    assert 898 <= limiter.attempt(ann, ip).retry_after <= 900  # never longer than the window
    # Only this account from this address: the owner elsewhere, and other accounts here, go straight on.
    assert limiter.attempt(ann, "10.0.0.2").allowed and limiter.attempt("bob@staff.example", ip).allowed
    keys = list(staff_env.scan_iter("gzcp:staff:login:*"))
    assert keys and all("staff.example" not in key and "10.0.0" not in key for key in keys)  # hashed
    assert all(0 < staff_env.ttl(key) <= 900 + 900 for key in keys)


def test_a_correct_password_gives_its_attempt_back(staff_env: redis.Redis, limits) -> None:
    limits.setenv("STAFF_LOGIN_MAX_PER_IP", "3")
    limiter = security.LoginLimiter(staff_env)
    ann, ip = "ann@staff.example", "10.0.0.1"
    assert limiter.attempt(ann, ip).allowed and limiter.attempt(ann, ip).allowed
    limiter.succeeded(ann, ip)  # the second one was right: the pair starts afresh
    for _ in range(10):  # an owner logging in again and again is never slowed
        assert limiter.attempt(ann, ip).allowed
        limiter.succeeded(ann, ip)
    ip_key, pair_key, account_key = limiter._keys(ann, ip)
    assert staff_env.get(ip_key) == "1" and staff_env.get(account_key) == "1" and not staff_env.exists(pair_key)


def test_spraying_from_one_address_is_refused_for_the_window(staff_env: redis.Redis, limits) -> None:
    limits.setenv("STAFF_LOGIN_MAX_PER_IP", "5")
    limiter = security.LoginLimiter(staff_env)
    for n in range(5):
        assert limiter.attempt(f"user{n}@staff.example", "10.0.0.1").allowed
    refused = limiter.attempt("someone.else@staff.example", "10.0.0.1")
    assert not refused.allowed and 895 <= refused.retry_after <= 900
    assert limiter.attempt("someone.else@staff.example", "10.0.0.2").allowed


def test_a_distributed_attack_slows_every_failing_address_but_not_a_new_one(staff_env: redis.Redis, limits) -> None:
    limits.setenv("STAFF_LOGIN_FREE_FAILURES", "5")
    limits.setenv("STAFF_LOGIN_MAX_PER_ACCOUNT", "6")
    limiter = security.LoginLimiter(staff_env)
    ann = "ann@staff.example"
    for n in range(3):  # within the account's allowance: each address keeps its free failures
        assert limiter.attempt(ann, f"10.0.1.{n}").allowed and limiter.attempt(ann, f"10.0.1.{n}").allowed
    assert limiter.attempt(ann, "10.0.2.1").allowed  # beyond it: one failure, then this address waits
    assert not limiter.attempt(ann, "10.0.2.1").allowed
    assert not limiter.attempt(ann, "10.0.1.0").allowed  # and so does every address that has failed before
    assert limiter.attempt(ann, "192.0.2.10").allowed  # the owner, from an address that has not failed
    limiter.succeeded(ann, "192.0.2.10")
    assert limiter.attempt(ann, "192.0.2.10").allowed  # ... and again next time


def test_parallel_attempts_cannot_outrun_the_count(staff_env: redis.Redis, limits) -> None:
    limits.setenv("STAFF_LOGIN_BACKOFF_SECONDS", "60")
    barrier = threading.Barrier(16)

    def attempt(_: int) -> bool:
        limiter = security.LoginLimiter(staff_env)
        barrier.wait()
        return limiter.attempt("ann@staff.example", "10.0.0.1").allowed

    with ThreadPoolExecutor(16) as pool:
        allowed = list(pool.map(attempt, range(16)))
    assert allowed.count(True) == 2


def test_api_tokens_are_random_and_stored_as_a_hash() -> None:
    token, digest = security.new_api_token()
    other, _ = security.new_api_token()
    assert token.startswith("gzcp_") and token != other and len(token) > 40
    assert digest == security.api_token_hash(token) and token not in digest and len(digest) == 64
