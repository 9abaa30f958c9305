"""Staff console and API against odd input, on SQLite and PostgreSQL: NUL in a filter, an id, a note, a
decline reason or the login e-mail, and dates at the ends of the calendar. Each was a 500 on PostgreSQL
(it refuses NUL even in a query's parameters) or on both (dates Python cannot turn into UTC instants)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bot.staff import service
from tests.bot.staff.conftest import PASSWORD, csrf_of


def _token(db, user) -> dict:
    with db() as session:
        _, token = service.create_token(session, user, "bad-input")
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "query",
    [
        "q=%00",
        "channel=%00",
        "category=a%00b",
        "language=%00",
        "status=%00",
        "date_from=0001-01-01",
        "date_to=9999-12-31",
        "date_from=2025-01-01&date_to=9999-12-31",
    ],
)
def test_odd_filters_are_a_400_not_a_500(client: TestClient, db, make_user, query: str) -> None:
    headers = _token(db, make_user("reviewer"))
    for path in ("/api/staff/leads", "/api/staff/export.csv"):
        response = client.get(f"{path}?{query}", headers=headers)
        assert response.status_code == 400, (path, response.text)


@pytest.mark.parametrize("query", ["start=0001-01-01&end=0001-01-02", "end=0001-01-05", "start=9999-12-30&end=9999-12-31"])
def test_dashboard_dates_at_the_ends_of_the_calendar_are_a_400(client: TestClient, db, make_user, query: str) -> None:
    response = client.get(f"/api/staff/dashboard?{query}", headers=_token(db, make_user("viewer")))
    assert response.status_code == 400, response.text


def test_nul_in_an_id_a_note_or_a_reason(client: TestClient, db, make_user, make_lead) -> None:
    headers = _token(db, make_user("reviewer"))
    lead = make_lead()
    assert client.get("/api/staff/leads/ab%00cd", headers=headers).status_code == 404
    note = client.post(f"/api/staff/leads/{lead.id}/notes", json={"text": "call back\x00"}, headers=headers)
    assert note.status_code == 400 and "NUL" in note.json()["detail"]
    declined = client.post(f"/api/staff/leads/{lead.id}/status", json={"status": "declined", "reason": "no\x00"}, headers=headers)
    assert 400 <= declined.status_code < 500 and "NUL" in declined.json()["detail"]
    assert client.get(f"/api/staff/leads/{lead.id}", headers=headers).json()["status"] == "new"


def test_nul_in_the_login_email_is_a_failed_login(client: TestClient, make_user) -> None:
    make_user("viewer", email="ann@staff.example.org")
    form = client.get("/staff/login")
    response = client.post(
        "/staff/login",
        data={"email": "ann@staff.example.org\x00", "password": PASSWORD, "csrf_token": csrf_of(form.text), "next": "/staff"},
        follow_redirects=False,
    )
    assert response.status_code == 401
