"""bot.leads.fast_path answers POST /api/leads as the route does: the same requests sent through the app with the
fast path and with the route alone give the same statuses, bodies, stored rows and counts (on SQLite and
PostgreSQL, see conftest.py); and the usual new lead really is answered by the fast path."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from bot.leads import fast_path
from bot.leads.models import COLUMNS, Lead
from bot.metrics.exporter import REGISTRY
from tests.bot.leads.conftest import PROFILE, handoff_body, lead_body

JSON = "application/json"
Case = Tuple[str, str, bytes, Dict[str, str]]  # name, path, body, headers


def _body(data: Any) -> bytes:
    return json.dumps(data).encode()


def _cases() -> List[Case]:
    lead, handoff = _body(lead_body()), _body(handoff_body())
    other = _body(lead_body(conversation_id="conv-2"))
    return [
        ("new lead", "/api/leads", lead, {"Content-Type": JSON}),
        ("new hand-off", "/api/leads", handoff, {"Content-Type": JSON}),
        ("with a key", "/api/leads", lead, {"Content-Type": JSON, "Idempotency-Key": "k-1"}),
        ("replay", "/api/leads", lead, {"Content-Type": JSON, "Idempotency-Key": "k-1"}),
        ("key reused, other body", "/api/leads", other, {"Content-Type": JSON, "Idempotency-Key": "k-1"}),
        ("charset, upper case", "/api/leads", other, {"Content-Type": "Application/JSON; charset=utf-8"}),
        ("+json", "/api/leads", other, {"Content-Type": "application/vnd.lead+json"}),
        ("no content type", "/api/leads", lead, {}),
        ("text/plain", "/api/leads", lead, {"Content-Type": "text/plain"}),
        ("empty body", "/api/leads", b"", {"Content-Type": JSON}),
        ("not JSON", "/api/leads", b"{kind: lead", {"Content-Type": JSON}),
        ("not UTF-8", "/api/leads", b'{"kind": "\xff"}', {"Content-Type": JSON}),
        ("a JSON list", "/api/leads", b"[1, 2]", {"Content-Type": JSON}),
        ("key too long", "/api/leads", lead, {"Content-Type": JSON, "Idempotency-Key": "k" * 201}),
        ("key at its limit", "/api/leads", other, {"Content-Type": JSON, "Idempotency-Key": "k" * 200}),
        ("empty key", "/api/leads", lead, {"Content-Type": JSON, "Idempotency-Key": ""}),
        ("bad email", "/api/leads", _body(lead_body(contact={"person": "Li", "email": "li@"})), {"Content-Type": JSON}),
        ("bad phone", "/api/leads", _body(lead_body(contact={"person": "Li", "email": "li@example.com", "phone": "12"})),
         {"Content-Type": JSON}),
        ("unknown field", "/api/leads", _body({**lead_body(), "category": "strategic"}), {"Content-Type": JSON}),
        ("profile the rules refuse", "/api/leads", _body(lead_body(profile={**PROFILE, "org_type": "pirate"})),
         {"Content-Type": JSON}),
        ("NUL in a text", "/api/leads", _body(lead_body(conversation_id="a\x00b")), {"Content-Type": JSON}),
        ("lone surrogate", "/api/leads", b'{"kind": "lead", "conversation_id": "\\ud800"}', {"Content-Type": JSON}),
        ("NaN in the profile", "/api/leads", _body(lead_body(profile={**PROFILE, "employees": float("nan")})),
         {"Content-Type": JSON}),
        ("no consent", "/api/leads", _body(lead_body(consent={"given": False, "notice_version": "v1",
                                                                "given_at": "2025-01-01T00:00:00Z"})),
         {"Content-Type": JSON}),
        ("trailing slash", "/api/leads/", lead, {"Content-Type": JSON}),
    ]


def _normalised(response: Any) -> Dict[str, Any]:
    """What a client sees, without what differs by nature: the new lead's id and time."""
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        body = {key: value for key, value in body.items() if key not in ("id", "created_at")}
    location = response.headers.get("location", "")
    headers = {
        "content-type": response.headers.get("content-type"),
        "idempotent-replayed": response.headers.get("idempotent-replayed"),
        "location": location.rsplit("/", 1)[0] if location.startswith("/api/leads/") else location,
    }
    return {"status": response.status_code, "body": body, "headers": headers}


def _counts() -> Dict[Tuple[str, str], float]:
    counts = {}
    for metric in REGISTRY.collect():
        if metric.name == "gzcp_leads_intake":
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    counts[(sample.labels["kind"], sample.labels["outcome"])] = sample.value
    return counts


def _rows(sessions: sessionmaker[Session]) -> List[Dict[str, Any]]:
    with sessions() as session:
        leads = session.scalars(select(Lead).order_by(Lead.created_at)).all()
        return [{key: getattr(lead, key) for key in COLUMNS if key not in ("id", "created_at")} for lead in leads]


def _run(client: TestClient, sessions: sessionmaker[Session]) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]], Dict]:
    before = _counts()
    answers = [_normalised(client.post(path, content=body, headers=headers, follow_redirects=False))
               for _, path, body, headers in _cases()]
    after = _counts()
    counted = {key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key, 0)}
    rows = _rows(sessions)
    with sessions.begin() as session:
        session.execute(delete(Lead))
    return answers, rows, counted


def test_the_fast_path_answers_as_the_route_does(client: TestClient, sessions: sessionmaker[Session],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    taken: List[Optional[bool]] = []
    respond = fast_path.respond

    async def spy(*args: Any) -> bool:
        taken.append(await respond(*args))
        return taken[-1]

    monkeypatch.setattr(fast_path, "respond", spy)
    fast = _run(client, sessions)

    async def never(*args: Any) -> bool:
        return False

    monkeypatch.setattr(fast_path, "respond", never)
    route = _run(client, sessions)

    names = [name for name, *_ in _cases()]
    for name, with_fast, with_route in zip(names, fast[0], route[0], strict=True):
        assert with_fast == with_route, name
    assert fast[1] == route[1] and len(fast[1]) == 6  # the same rows: lead, hand-off, keyed, charset, +json, limit
    assert fast[2] == route[2] and sum(fast[2].values()) == len(names) - 1  # all counted but the redirect
    # The usual requests took the fast path; refusals, replays... went to the route (none on the trailing slash).
    took = dict(zip([n for n in names if n != "trailing slash"], taken, strict=True))
    assert {name for name, fast_answer in took.items() if fast_answer} == {
        "new lead", "new hand-off", "with a key", "replay", "charset, upper case", "key at its limit"}


def test_a_database_dependency_it_cannot_call_leaves_the_request_to_the_route(
    client: TestClient, sessions: sessionmaker[Session], count: Callable[[], int]
) -> None:
    from bot.db import get_sessions

    client.app.dependency_overrides[get_sessions] = lambda: sessions  # a plain function: FastAPI's business
    response = client.post("/api/leads", content=_body(lead_body()), headers={"Content-Type": JSON})
    assert response.status_code == 201 and count() == 1
