"""When console sessions end: on a password, role or active change (from the CLI or the service), at their
absolute lifetime however busy, and when idle, where the live-updates stream does not count as activity."""

from __future__ import annotations

import io
import json
import threading
import time
from typing import Callable, Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from bot.staff import cli, service
from bot.staff.models import StaffUser
from bot.staff.security import COOKIE_NAME, Sessions
from tests.bot.staff.conftest import PASSWORD, csrf_of, login

NEW_PASSWORD = "another long pass phrase"


@pytest.fixture
def run_cli(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Callable[..., int]:
    """`python -m bot.staff ...` on the test database."""
    monkeypatch.setattr(cli, "get_engine", lambda: engine)

    def invoke(*argv: str, stdin: str = "") -> int:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        return cli.main(list(argv))

    return invoke


def _session_key(staff_env: redis.Redis) -> str:
    keys = list(staff_env.scan_iter("gzcp:staff:session:*"))
    assert len(keys) == 1, keys
    return keys[0]


def _logged_out(client: TestClient) -> bool:
    response = client.get("/staff", follow_redirects=False)
    return response.status_code == 303 and response.headers["location"].startswith("/staff/login")


CHANGES = {
    "password": [("set-password", "--password-stdin")],
    "role": [("set-role", "--role", "admin")],
    "deactivate, then reactivate": [("deactivate",), ("activate",)],
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_from_the_cli_ends_the_users_sessions(client: TestClient, make_user, run_cli, staff_env,
                                                       change: str) -> None:
    user = make_user("reviewer")
    login(client, user.email)
    old_cookie = client.cookies.get(COOKIE_NAME)
    other = TestClient(client.app)  # a second session of the same user: it ends too
    login(other, user.email)
    for command, *rest in CHANGES[change]:
        assert run_cli(command, "--email", user.email, *rest, stdin=NEW_PASSWORD + "\n") == 0
    assert _logged_out(client) and _logged_out(other)
    client.cookies.set(COOKIE_NAME, old_cookie)
    assert _logged_out(client)  # replaying the old cookie does not bring it back
    assert list(staff_env.scan_iter("gzcp:staff:session:*")) == []  # refused sessions are removed
    # Logging in again works (with whatever password the account has now).
    fresh = TestClient(client.app)
    login(fresh, user.email, NEW_PASSWORD if change == "password" else PASSWORD)
    assert fresh.get("/staff", follow_redirects=False).status_code == 200


def test_a_change_through_the_service_or_the_model_ends_sessions(client: TestClient, make_user, db) -> None:
    user = make_user("admin")
    login(client, user.email)
    with db() as session:  # what an admin route would call
        service.update_user(session, session.get(StaffUser, user.id), role="viewer")
    assert _logged_out(client)
    login(client, user.email)
    with db() as session:  # even a direct assignment, bypassing the service
        row = session.get(StaffUser, user.id)
        row.password_hash = row.password_hash  # unchanged: no reason to end anything
        row.role = "viewer"
        session.commit()
    assert client.get("/staff", follow_redirects=False).status_code == 200
    with db() as session:
        row = session.get(StaffUser, user.id)
        row.active = False
        session.commit()
        row.active = True
        session.commit()
    assert _logged_out(client)


def test_sessions_have_an_absolute_lifetime(client: TestClient, make_user, staff_env, monkeypatch) -> None:
    monkeypatch.setenv("STAFF_SESSION_MAX_SECONDS", "3600")
    user = make_user("viewer")
    login(client, user.email)
    key = _session_key(staff_env)

    def age_to(seconds: float) -> None:
        data = json.loads(staff_env.get(key))
        data["created"] = time.time() - seconds
        staff_env.set(key, json.dumps(data), keepttl=True)

    age_to(3600 - 60)  # still inside the lifetime: works, but the idle refresh stops at the end
    assert client.get("/staff", follow_redirects=False).status_code == 200
    assert 0 < staff_env.ttl(key) <= 60
    age_to(3601)  # busy all along, yet past the lifetime
    assert _logged_out(client) and staff_env.exists(key) == 0


def test_the_cookie_lasts_as_long_as_the_absolute_lifetime(client: TestClient, make_user, monkeypatch) -> None:
    monkeypatch.setenv("STAFF_SESSION_MAX_SECONDS", "7200")
    user = make_user("viewer")
    form = client.get("/staff/login")
    response = client.post("/staff/login", data={"email": user.email, "password": PASSWORD,
                                                 "csrf_token": csrf_of(form.text)}, follow_redirects=False)
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(COOKIE_NAME + "="))
    assert "Max-Age=7200" in cookie


# --- the live-updates stream ----------------------------------------------------------------------------------


@pytest.fixture
def stream_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("STAFF_SSE_CHECK_SECONDS", "0.2")
    yield monkeypatch


def _stream(client: TestClient) -> tuple[float, str]:
    """Read /staff/events to its end; (seconds it lasted, body). The test client gives the body at the end."""
    started = time.monotonic()
    response = client.get("/staff/events", headers={"Accept": "text/event-stream"})
    assert response.status_code == 200
    return time.monotonic() - started, response.text


def test_the_stream_does_not_refresh_the_idle_timeout(client: TestClient, make_user, staff_env, stream_env) -> None:
    stream_env.setenv("STAFF_SSE_MAX_SECONDS", "1.5")
    user = make_user("viewer")
    login(client, user.email)
    key = _session_key(staff_env)
    staff_env.expire(key, 100)
    seconds, body = _stream(client)
    assert body.startswith("retry:") and seconds >= 1.4
    assert staff_env.ttl(key) <= 100  # neither the opening request nor the periodic checks renewed it
    assert client.get("/staff").status_code == 200  # a page view does
    assert staff_env.ttl(key) > 28000


def test_an_open_stream_lets_the_session_expire_and_then_ends(client: TestClient, make_user, staff_env,
                                                               stream_env) -> None:
    stream_env.setenv("STAFF_SSE_MAX_SECONDS", "30")
    user = make_user("viewer")
    login(client, user.email)
    staff_env.expire(_session_key(staff_env), 2)  # two seconds of idle time left
    seconds, _ = _stream(client)
    assert 1.5 <= seconds < 10  # ended with the session, long before its 30 s
    assert _logged_out(client)


def _end_by_logout(client: TestClient, db, user: StaffUser, staff_env: redis.Redis) -> None:
    Sessions(staff_env).delete(client.cookies.get(COOKIE_NAME))


def _end_by_password_change(client: TestClient, db, user: StaffUser, staff_env: redis.Redis) -> None:
    with db() as session:
        service.update_user(session, session.get(StaffUser, user.id), password=NEW_PASSWORD)


def _end_by_absolute_lifetime(client: TestClient, db, user: StaffUser, staff_env: redis.Redis) -> None:
    key = _session_key(staff_env)
    data = json.loads(staff_env.get(key))
    data["created"] = 0
    staff_env.set(key, json.dumps(data), keepttl=True)


@pytest.mark.parametrize("end", [_end_by_logout, _end_by_password_change, _end_by_absolute_lifetime],
                         ids=["logout", "password change", "absolute lifetime"])
def test_the_stream_stops_when_the_session_ends(client: TestClient, make_user, db, staff_env, stream_env,
                                                end: Callable[..., None]) -> None:
    stream_env.setenv("STAFF_SSE_MAX_SECONDS", "30")
    user = make_user("viewer")
    login(client, user.email)
    timer = threading.Timer(1.0, end, args=(client, db, user, staff_env))
    timer.start()
    try:
        seconds, _ = _stream(client)
    finally:
        timer.join()
    assert 0.9 <= seconds < 10, seconds  # not before the session ended, and long before the stream's 30 s


def test_the_stream_refuses_an_ended_session(client: TestClient, make_user, run_cli, stream_env) -> None:
    user = make_user("viewer")
    login(client, user.email)
    assert run_cli("set-role", "--email", user.email, "--role", "admin") == 0
    response = client.get("/staff/events", headers={"Accept": "text/event-stream"})
    assert response.status_code == 401
