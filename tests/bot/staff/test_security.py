"""Passwords, Redis sessions, the login rate limit and API token storage."""

from __future__ import annotations

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
    token = sessions.create(7)
    keys = list(staff_env.scan_iter("gzcp:staff:session:*"))
    assert len(keys) == 1 and token not in keys[0]  # the cookie value itself is not stored
    assert 0 < staff_env.ttl(keys[0]) <= 120
    found = sessions.get(token)
    assert found is not None and found.user_id == 7 and len(found.csrf) > 30
    assert sessions.get(token + "x") is None and sessions.get(None) is None
    sessions.delete(token)
    assert sessions.get(token) is None


def test_csrf_comparison() -> None:
    assert security.csrf_matches("abc", "abc")
    assert not security.csrf_matches("abc", "abd")
    assert not security.csrf_matches("", "") and not security.csrf_matches("abc", None)


def test_login_rate_limit_per_account_and_per_ip(staff_env: redis.Redis, monkeypatch) -> None:
    monkeypatch.setenv("STAFF_LOGIN_MAX_PER_ACCOUNT", "3")
    monkeypatch.setenv("STAFF_LOGIN_MAX_PER_IP", "5")
    limiter = security.LoginLimiter(staff_env)
    for _ in range(3):
        assert not limiter.blocked("Ann@staff.example", "10.0.0.1")
        limiter.failed("ann@staff.example", "10.0.0.1")
    assert limiter.blocked("ann@staff.example", "10.0.0.2")  # the account, from anywhere
    assert not limiter.blocked("bob@staff.example", "10.0.0.3")
    limiter.failed("bob@staff.example", "10.0.0.1")
    limiter.failed("cat@staff.example", "10.0.0.1")
    assert limiter.blocked("dan@staff.example", "10.0.0.1")  # the address, for any account
    assert all("staff.example" not in key for key in staff_env.scan_iter("gzcp:staff:login:*"))  # emails hashed
    assert all(0 < staff_env.ttl(key) <= 900 for key in staff_env.scan_iter("gzcp:staff:login:*"))
    limiter.succeeded("bob@staff.example", "10.0.0.9")
    assert not limiter.blocked("bob@staff.example", "10.0.0.9")


def test_api_tokens_are_random_and_stored_as_a_hash() -> None:
    token, digest = security.new_api_token()
    other, _ = security.new_api_token()
    assert token.startswith("gzcp_") and token != other and len(token) > 40
    assert digest == security.api_token_hash(token) and token not in digest and len(digest) == 64
