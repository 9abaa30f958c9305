"""Who is asking, and may they: the console's session cookie (with CSRF on every POST) and the API's tokens.

Every staff route declares its least role with `web_user(role)` or `api_user(role)`; the authorization test
walks all of them. Unauthenticated page views go to the login page; anything else gets 401, a too-low role 403.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable, Optional
from urllib.parse import quote

import redis
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import get_session
from bot.settings import settings
from bot.shared.redis_conn import client_from_url
from bot.staff.models import ROLES, ApiToken, StaffUser
from bot.staff.security import COOKIE_NAME, Sessions, StaffSession, api_token_hash, csrf_matches

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_FAILED = "the form expired or did not come from this console (CSRF check failed); reload the page and try again"


@functools.lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return client_from_url(url)


def get_redis() -> redis.Redis:
    """FastAPI dependency: the shared Redis client for REDIS_URL (or REDIS_HOST/PORT/DB) as the environment says now."""
    return _client(settings().redis_connection_url)


class StaffPageError(HTTPException):
    """An error on a console page: rendered as a page (bot.staff.install registers the handler)."""


def _redis_unavailable() -> HTTPException:
    return StaffPageError(status.HTTP_503_SERVICE_UNAVAILABLE, "the session store (Redis) is unreachable; try again shortly")


def _login_redirect(request: Request) -> HTTPException:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return StaffPageError(status.HTTP_303_SEE_OTHER, "log in first", headers={"Location": f"/staff/login?next={quote(target)}"})


def _session_user(request: Request, db: Session = Depends(get_session),
                  client: redis.Redis = Depends(get_redis)) -> Optional[StaffUser]:
    """The logged-in user of this request, or None (sync: the DB and Redis calls run in the thread pool)."""
    try:
        staff_session = Sessions(client).get(request.cookies.get(COOKIE_NAME))
    except redis.RedisError:
        raise _redis_unavailable() from None
    if staff_session is None:
        return None
    user = db.get(StaffUser, staff_session.user_id)
    if user is None or not user.active:
        return None
    request.state.staff_session = staff_session
    return user


def web_user(role: str) -> Callable[..., Awaitable[StaffUser]]:
    """Dependency for console routes: a logged-in user with at least `role`; on POST a valid CSRF token too."""
    if role not in ROLES:
        raise ValueError(role)

    async def dependency(request: Request, user: Optional[StaffUser] = Depends(_session_user)) -> StaffUser:
        if user is None:
            if request.method == "GET" and "text/event-stream" not in request.headers.get("accept", ""):
                raise _login_redirect(request)
            raise StaffPageError(status.HTTP_401_UNAUTHORIZED, "log in first")
        if request.method not in SAFE_METHODS:
            session: StaffSession = request.state.staff_session
            given = request.headers.get("X-CSRF-Token")
            if given is None and "form" in request.headers.get("content-type", ""):
                given = (await request.form()).get("csrf_token")  # type: ignore[assignment]
            if not csrf_matches(session.csrf, given):
                raise StaffPageError(status.HTTP_403_FORBIDDEN, CSRF_FAILED)
        if not user.can(role):
            raise StaffPageError(status.HTTP_403_FORBIDDEN, f"this needs the {role} role; you are {user.role}")
        return user

    dependency.min_role = role  # type: ignore[attr-defined]  (read by the authorization test)
    return dependency


_bearer = HTTPBearer(auto_error=False, description="a staff API token (python -m bot.staff token create)")


def _token_user(credentials: Optional[HTTPAuthorizationCredentials] = Depends(_bearer),
                db: Session = Depends(get_session)) -> StaffUser:
    if credentials is None or not credentials.credentials or len(credentials.credentials) > 200:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "send a staff API token: Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    token = db.scalars(
        select(ApiToken).where(ApiToken.token_hash == api_token_hash(credentials.credentials), ApiToken.revoked_at.is_(None))
    ).one_or_none()
    user = db.get(StaffUser, token.user_id) if token is not None else None
    if token is None or user is None or not user.active:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API token", headers={"WWW-Authenticate": "Bearer"})
    now = datetime.now(timezone.utc)
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):  # not a write per request
        token.last_used_at = now
        db.commit()
    return user


def api_user(role: str) -> Callable[..., StaffUser]:
    """Dependency for the JSON API: a valid token whose user has at least `role` (no cookies, so no CSRF)."""
    if role not in ROLES:
        raise ValueError(role)

    def dependency(user: StaffUser = Depends(_token_user)) -> StaffUser:
        if not user.can(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the {role} role; the token's user is {user.role}")
        return user

    dependency.min_role = role  # type: ignore[attr-defined]
    return dependency
