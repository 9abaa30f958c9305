"""Every staff route refuses the unauthenticated and the wrong role; CSRF on every POST; session cookies.

The routes come from `app.routes`: a new staff route fails `test_every_staff_route_is_listed` until it is
added to ROUTES with its least role, and is then walked like the others."""

from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Mount

from bot.staff import service
from bot.staff.auth import CSRF_FAILED
from bot.staff.security import COOKIE_NAME
from tests.bot.staff.conftest import PASSWORD, csrf_of, login

PUBLIC = None
# (method, path) -> least role; None: public (the login form).
ROUTES: Dict[Tuple[str, str], Optional[str]] = {
    ("GET", "/staff/login"): PUBLIC,
    ("POST", "/staff/login"): PUBLIC,
    ("GET", "/staff/language"): PUBLIC,  # the language switch (the login page has it too)
    ("POST", "/staff/logout"): "viewer",
    ("GET", "/staff"): "viewer",
    ("GET", "/staff/handoffs"): "viewer",
    ("GET", "/staff/export.csv"): "reviewer",
    ("GET", "/staff/events"): "viewer",
    ("GET", "/staff/leads/{lead_id}"): "viewer",
    ("POST", "/staff/leads/{lead_id}/status"): "reviewer",
    ("POST", "/staff/leads/{lead_id}/assignee"): "reviewer",
    ("POST", "/staff/leads/{lead_id}/notes"): "reviewer",
    ("GET", "/staff/review"): "viewer",
    ("GET", "/staff/review/{lead_id}"): "viewer",
    ("POST", "/staff/review/{lead_id}"): "reviewer",
    ("GET", "/staff/dashboard"): "viewer",
    ("GET", "/staff/trends"): "viewer",
    ("GET", "/staff/trends.csv"): "viewer",  # counts only, no personal data
    ("GET", "/staff/knowledge"): "viewer",
    ("GET", "/staff/knowledge/changes/{change_id}"): "viewer",
    ("GET", "/staff/knowledge/fix"): "editor",
    ("GET", "/staff/knowledge/fact"): "editor",
    ("POST", "/staff/knowledge/fact"): "editor",
    ("POST", "/staff/knowledge/example"): "editor",
    ("POST", "/staff/knowledge/changes/{change_id}/revert"): "editor",
    ("GET", "/staff/audit"): "admin",
    ("GET", "/api/staff/leads"): "viewer",
    ("GET", "/api/staff/export.csv"): "reviewer",
    ("GET", "/api/staff/leads/{lead_id}"): "viewer",
    ("POST", "/api/staff/leads/{lead_id}/status"): "reviewer",
    ("POST", "/api/staff/leads/{lead_id}/assignee"): "reviewer",
    ("POST", "/api/staff/leads/{lead_id}/notes"): "reviewer",
    ("GET", "/api/staff/review"): "viewer",
    ("POST", "/api/staff/leads/{lead_id}/review"): "reviewer",
    ("GET", "/api/staff/dashboard"): "viewer",
    ("GET", "/api/staff/trends"): "viewer",
    ("GET", "/api/staff/audit"): "admin",
}
STATIC_MOUNTS = {"/staff/static"}  # CSS and JavaScript only: no data
RANK = {"viewer": 0, "reviewer": 1, "editor": 2, "admin": 3}


def _app_routes(app: FastAPI) -> List[Tuple[str, Optional[Set[str]], BaseRoute]]:
    """(path, methods, route) for every route of `app.routes`, the routes of included routers too."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.165 keeps included routers lazily
    except ImportError:  # pragma: no cover - older FastAPI lists every route flat
        return [(getattr(r, "path", ""), getattr(r, "methods", None), r) for r in app.routes]
    return [(ctx.path or "", ctx.methods, ctx.original_route) for ctx in iter_route_contexts(app.routes)]


def _staff_routes(app: FastAPI) -> List[Tuple[str, str, BaseRoute]]:
    found = []
    for path, methods, route in _app_routes(app):
        if not (path.startswith("/staff") or path.startswith("/api/staff")):
            continue
        if isinstance(route, Mount):
            assert path in STATIC_MOUNTS, f"unexpected mount under the staff prefix: {path}"
            continue
        assert isinstance(route, APIRoute) and methods, f"{path}: not an APIRoute; extend this test"
        found.extend((method, path, route) for method in methods)
    return found


def test_every_staff_route_is_listed(app: FastAPI) -> None:
    routes = [(method, path) for method, path, _ in _staff_routes(app)]
    assert len(routes) > 15 and sorted(routes) == sorted(ROUTES)


def test_each_route_declares_the_role_the_table_expects(app: FastAPI) -> None:
    for method, path, route in _staff_routes(app):
        assert isinstance(route, APIRoute)
        roles = [getattr(d.call, "min_role", None) for d in route.dependant.dependencies]
        declared = next((r for r in roles if r), None)
        assert declared == ROUTES[(method, path)], (method, path, roles)


def _request(client: TestClient, method: str, path: str, lead_id: str, csrf: str = "", token: str = ""):
    url = path.replace("{lead_id}", lead_id).replace("{change_id}", "1")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if method == "GET":
        return client.get(url, headers=headers, follow_redirects=False)
    if path.startswith("/api/"):
        body = {"status": "in_review", "text": "walk", "assignee_id": None}
        if path.endswith("/assignee"):
            body = {"assignee_id": None}
        elif path.endswith("/status"):
            body = {"status": "in_review"}
        elif path.endswith("/notes"):
            body = {"text": "walk"}
        elif path.endswith("/review"):
            body = {"category": "city_dreamer", "qualifies": True}
        return client.post(url, json=body, headers=headers, follow_redirects=False)
    return client.post(url, data={"csrf_token": csrf, "status": "in_review", "text": "walk", "assignee_id": ""},
                       headers=headers, follow_redirects=False)


def _refused_unauthenticated(response, path: str) -> bool:
    if response.status_code == 401:
        return True
    return (response.status_code == 303 and response.headers["location"].startswith("/staff/login")
            and not path.startswith("/api/"))


@pytest.mark.parametrize("method, path", sorted(k for k, v in ROUTES.items() if v is not PUBLIC))
def test_unauthenticated_requests_are_refused(client: TestClient, make_lead, method: str, path: str) -> None:
    lead = make_lead()
    response = _request(client, method, path, lead.id)
    assert _refused_unauthenticated(response, path), (response.status_code, response.text[:200])
    # A made-up cookie or token is no better than none.
    client.cookies.set(COOKIE_NAME, "forged")
    response = _request(client, method, path, lead.id, token="gzcp_forged")
    assert _refused_unauthenticated(response, path), (response.status_code, response.text[:200])


@pytest.mark.parametrize("role", ["viewer", "reviewer", "editor", "admin"])
def test_each_role_gets_exactly_the_routes_it_may_use(client: TestClient, monkeypatch, make_user, make_lead, db,
                                                       role: str) -> None:
    monkeypatch.setenv("STAFF_SSE_MAX_SECONDS", "0")  # the event stream ends at once, so the walk does not hang
    user = make_user(role)
    with db() as session:
        _, token = service.create_token(session, user, "walk")
    csrf = login(client, user.email)
    for (method, path), least in sorted(ROUTES.items(), key=lambda item: item[0][1].endswith("logout")):
        if least is PUBLIC:
            continue
        lead = make_lead(conversation_id=f"walk-{role}-{method}-{path}")
        response = _request(client, method, path, lead.id, csrf=csrf, token=token if path.startswith("/api/") else "")
        if RANK[role] >= RANK[least]:
            assert response.status_code not in (401, 403), (role, method, path, response.status_code, response.text[:300])
            assert not (response.status_code == 303 and "/staff/login" in response.headers.get("location", "")
                        and not path.endswith("logout")), (role, method, path)
        else:
            assert response.status_code == 403, (role, method, path, response.status_code)
            assert f"needs the {least} role" in response.text


def test_posts_without_the_sessions_csrf_token_are_refused(client: TestClient, make_user, make_lead, db) -> None:
    user, lead = make_user("admin"), make_lead()
    csrf = login(client, user.email)
    for data in ({}, {"csrf_token": "wrong"}, {"csrf_token": csrf[:-1]}):
        for path, extra in ((f"/staff/leads/{lead.id}/status", {"status": "in_review"}),
                            (f"/staff/leads/{lead.id}/notes", {"text": "sneaky"}),
                            (f"/staff/leads/{lead.id}/assignee", {"assignee_id": str(user.id)}),
                            ("/staff/logout", {})):
            response = client.post(path, data={**data, **extra}, follow_redirects=False)
            assert response.status_code == 403 and CSRF_FAILED.split(";")[0] in response.text, path
    # Another session's token does not work either.
    other = TestClient(client.app)
    other_csrf = login(other, user.email)
    response = client.post(f"/staff/leads/{lead.id}/status", data={"csrf_token": other_csrf, "status": "in_review"},
                           follow_redirects=False)
    assert response.status_code == 403
    with db() as session:
        assert service.get_lead(session, lead.id).status == "new" and service.notes(session, lead.id) == []
    assert client.get("/staff").status_code == 200  # still logged in: logout was refused too
    # With the token, it works.
    response = client.post(f"/staff/leads/{lead.id}/status", data={"csrf_token": csrf, "status": "in_review"},
                           follow_redirects=False)
    assert response.status_code == 303


def test_the_login_form_has_its_own_csrf_check(client: TestClient, make_user) -> None:
    user = make_user("viewer")
    client.get("/staff/login")
    response = client.post("/staff/login", data={"email": user.email, "password": PASSWORD, "csrf_token": "guess"},
                           follow_redirects=False)
    assert response.status_code == 403 and COOKIE_NAME not in response.cookies


def test_session_cookie_flags_and_logout_ends_the_session(client: TestClient, make_user, monkeypatch) -> None:
    user = make_user("viewer")
    form = client.get("/staff/login")
    response = client.post("/staff/login", data={"email": user.email.upper(), "password": PASSWORD,
                                                 "csrf_token": csrf_of(form.text), "next": "//evil.example"},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/staff"  # no open redirect
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(COOKIE_NAME + "="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    old = client.cookies.get(COOKIE_NAME)
    csrf = csrf_of(client.get("/staff").text)
    assert client.post("/staff/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    client.cookies.set(COOKIE_NAME, old)  # replaying the old cookie after logout
    response = client.get("/staff", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/staff/login")

    monkeypatch.setenv("STAFF_COOKIE_SECURE", "true")
    form = TestClient(client.app).get("/staff/login")
    assert "Secure" in form.headers["set-cookie"]


def test_a_deactivated_user_loses_session_and_tokens(client: TestClient, make_user, db) -> None:
    user = make_user("reviewer")
    with db() as session:
        _, token = service.create_token(session, user, "x")
    login(client, user.email)
    with db() as session:
        service.update_user(session, service.find_user(session, user.email), active=False)
    assert client.get("/staff", follow_redirects=False).status_code == 303
    assert client.get("/api/staff/leads", headers={"Authorization": f"Bearer {token}"}).status_code == 401
