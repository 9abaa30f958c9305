"""Who is asking, and may they: the console's session cookie (with CSRF on every POST) and the API's tokens.

Every staff route declares its least role with `web_user(role)` or `api_user(role)`; the authorization test
walks all of them. Unauthenticated page views go to the login page; anything else gets 401, a too-low role 403.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Dict, Optional, Union
from urllib.parse import quote

import redis
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.db import get_session
from bot.settings import settings
from bot.shared.redis_conn import shared_client
from bot.staff.i18n import StaffError, Term
from bot.staff.models import ROLES, ApiToken, StaffUser
from bot.staff.security import COOKIE_NAME, Sessions, StaffSession, api_token_hash, csrf_matches

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_FAILED = str(StaffError("error.csrf"))  # in English; pages show it in the reader's language


def get_redis() -> redis.Redis:
    """FastAPI dependency: the shared Redis client for REDIS_URL (or REDIS_HOST/PORT/DB) as the environment says now."""
    return shared_client(settings().redis_connection_url)


class StaffPageError(HTTPException):
    """An error on a console page: rendered as a page in the reader's language (bot.staff.install registers the
    handler). `message` is a StaffError or an i18n.yml key."""

    def __init__(self, status_code: int, message: Union[str, StaffError], headers: Optional[Dict[str, str]] = None) -> None:
        self.error = message if isinstance(message, StaffError) else StaffError(message)
        super().__init__(status_code, str(self.error), headers)


def _redis_unavailable() -> HTTPException:
    return StaffPageError(status.HTTP_503_SERVICE_UNAVAILABLE, "error.redis_sessions")


def _login_redirect(request: Request) -> HTTPException:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return StaffPageError(status.HTTP_303_SEE_OTHER, "error.login_first",
                          headers={"Location": f"/staff/login?next={quote(target)}"})


def current_user(db: Session, client: redis.Redis, cookie: Optional[str],
                 refresh: bool = True) -> Optional[tuple[StaffUser, StaffSession]]:
    """The user and session behind a session cookie, or None; a session whose user is gone, deactivated or
    changed since login (password, role or active flag: `session_version` moved) is ended on the spot.

    `refresh` renews the idle timeout: true for requests a person made, false for the live-updates stream."""
    sessions = Sessions(client)
    staff_session = sessions.get(cookie)
    if staff_session is None:
        return None
    user = db.get(StaffUser, staff_session.user_id)
    if user is None or not user.active or user.session_version != staff_session.version:
        sessions.end(staff_session)
        return None
    if refresh:
        sessions.touch(staff_session)
    return user, staff_session


def session_is_valid(bind: Any, client: redis.Redis, cookie: Optional[str]) -> bool:
    """For a long-running response (the event stream): is its session still good? Own DB session, no refresh."""
    with Session(bind) as db:
        try:
            return current_user(db, client, cookie, refresh=False) is not None
        except (redis.RedisError, SQLAlchemyError):
            return False  # the stream ends; the browser reconnects through the full check


def _session_user(refresh: bool) -> Callable[..., Optional[StaffUser]]:
    def dependency(request: Request, db: Session = Depends(get_session),
                   client: redis.Redis = Depends(get_redis)) -> Optional[StaffUser]:
        """The logged-in user of this request, or None (sync: the DB and Redis calls run in the thread pool)."""
        try:
            found = current_user(db, client, request.cookies.get(COOKIE_NAME), refresh)
        except redis.RedisError:
            raise _redis_unavailable() from None
        if found is None:
            return None
        request.state.staff_session = found[1]
        return found[0]

    return dependency


_refreshing_user, _passive_user = _session_user(True), _session_user(False)


def web_user(role: str, refresh: bool = True) -> Callable[..., Awaitable[StaffUser]]:
    """Dependency for console routes: a logged-in user with at least `role`; on POST a valid CSRF token too.

    refresh=False leaves the session's idle timeout alone (the live-updates stream: an open tab is not activity)."""
    if role not in ROLES:
        raise ValueError(role)

    async def dependency(request: Request,
                         user: Optional[StaffUser] = Depends(_refreshing_user if refresh else _passive_user)) -> StaffUser:
        if user is None:
            if request.method == "GET" and "text/event-stream" not in request.headers.get("accept", ""):
                raise _login_redirect(request)
            raise StaffPageError(status.HTTP_401_UNAUTHORIZED, "error.login_first")
        if request.method not in SAFE_METHODS:
            session: StaffSession = request.state.staff_session
            given = request.headers.get("X-CSRF-Token")
            if given is None and "form" in request.headers.get("content-type", ""):
                given = (await request.form()).get("csrf_token")  # type: ignore[assignment]
            if not csrf_matches(session.csrf, given):
                raise StaffPageError(status.HTTP_403_FORBIDDEN, "error.csrf")
        if not user.can(role):
            raise StaffPageError(status.HTTP_403_FORBIDDEN, StaffError("error.role_needed", role=Term("role", role),
                                                                       current=Term("role", user.role)))
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
