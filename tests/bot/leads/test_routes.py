"""POST/GET/DELETE /api/leads over HTTP, on SQLite and PostgreSQL (see conftest.py)."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.leads.routes import router
from bot.shared.program.eligibility import Profile, assess
from tests.bot.leads.conftest import ADMIN, API_KEY, PROFILE, handoff_body, lead_body
from tests.bot.sessions import use_sessions

# --- auth ------------------------------------------------------------------------------------------


def test_missing_or_wrong_key_is_refused_and_nothing_is_stored(client: TestClient, count: Callable[[], int]) -> None:
    missing = client.post("/api/leads", json=lead_body(), headers={"X-API-Key": ""})
    wrong = client.post("/api/leads", json=lead_body(), headers={"X-API-Key": "not-the-key"})
    assert missing.status_code == 401 and wrong.status_code == 401
    assert client.get("/api/leads/whatever", headers={"X-API-Key": "nope"}).status_code == 401
    assert client.delete("/api/leads", params={"conversation_id": "conv-1"}, headers={"X-API-Key": "nope"}).status_code == 401
    assert count() == 0


def test_the_right_key_is_accepted(client: TestClient) -> None:
    assert client.post("/api/leads", json=lead_body()).status_code == 201


def test_each_key_opens_its_own_scope_only(client: TestClient, count: Callable[[], int]) -> None:
    created = client.post("/api/leads", json=lead_body(conversation_id="scoped")).json()
    # The create key (held by the action server) can neither read a lead nor erase a conversation...
    assert client.get(f"/api/leads/{created['id']}").status_code == 403
    assert client.get("/api/leads/outbox").status_code == 403
    refused = client.delete("/api/leads", params={"conversation_id": "scoped"})
    assert refused.status_code == 403 and "needs the read/erase key" in refused.json()["detail"] and count() == 1
    # ...and the read/erase key cannot add leads.
    assert client.post("/api/leads", json=lead_body(), headers=ADMIN).status_code == 403 and count() == 1
    assert client.delete("/api/leads", params={"conversation_id": "scoped"}, headers=ADMIN).json() == {"deleted": 1}


def test_the_key_is_checked_before_the_body_is_read(client: TestClient, count: Callable[[], int]) -> None:
    read = []

    def body():  # a streamed body: reading any of it shows up in `read`
        for _ in range(64):
            read.append(1)
            yield b"x" * 65536

    wrong = client.post("/api/leads", content=body(), headers={"X-API-Key": "wrong", "Content-Type": "application/json"})
    assert wrong.status_code == 401 and len(read) <= 1  # the client's first chunk may be in flight; no more


def test_bodies_are_limited_in_size(client: TestClient, count: Callable[[], int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_MAX_BODY_BYTES", "4096")
    declared = client.post("/api/leads", content=b"{" + b" " * 5000 + b"}", headers={"Content-Type": "application/json"})
    assert declared.status_code == 413 and "4096" in declared.json()["detail"]

    def streamed():  # no Content-Length: cut off once past the limit
        for _ in range(100):
            yield b" " * 1024

    assert client.post("/api/leads", content=streamed(), headers={"Content-Type": "application/json"}).status_code == 413
    assert client.post("/api/leads", json=lead_body()).status_code == 201 and count() == 1  # a normal body still fits


def test_a_server_without_a_key_for_the_scope_refuses_it(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_ADMIN_KEY", "")
    response = client.delete("/api/leads", params={"conversation_id": "x"}, headers={"X-API-Key": API_KEY})
    assert response.status_code == 503 and "INTAKE_ADMIN_KEY" in response.json()["detail"]


def test_a_server_without_a_key_refuses_everything_clearly(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTAKE_API_KEY")
    response = client.post("/api/leads", json=lead_body())
    assert response.status_code == 503 and "INTAKE_API_KEY" in response.json()["detail"]


def test_a_non_ascii_key_is_a_plain_401(client: TestClient) -> None:
    assert client.post("/api/leads", json=lead_body(), headers={"X-API-Key": "clé".encode("latin-1")}).status_code == 401


# --- storing ---------------------------------------------------------------------------------------


def test_a_lead_is_stored_with_consent_transcript_and_assessment(client: TestClient) -> None:
    response = client.post("/api/leads", json=lead_body())
    assert response.status_code == 201
    created = response.json()
    stored = client.get(f"/api/leads/{created['id']}", headers=ADMIN).json()
    assert stored == created and response.headers["Location"] == f"/api/leads/{created['id']}"
    assert stored["kind"] == "lead" and stored["status"] == "new"
    assert (stored["conversation_id"], stored["channel"], stored["language"]) == ("conv-1", "web", "en")
    assert stored["contact"] == {"person": "Li Hua", "email": "li.hua@example.com", "phone": "+8613800138000"}
    assert stored["consent"]["notice_version"] == "2025-01"
    assert stored["consent"]["given_at"].startswith("2025-01-02T03:04:00")
    assert [turn["sender"] for turn in stored["transcript"]] == ["user", "bot"]
    assert stored["profile"] == PROFILE
    assessment = stored["assessment"]
    assert assessment["category"] == "strategic_partner" and assessment["qualified"] is True
    assert 0 <= assessment["score"] <= 100 and assessment["rules_version"]
    assert all(set(reason) == {"en", "zh"} for reason in assessment["reasons"])


def test_the_service_assesses_the_profile_itself(client: TestClient) -> None:
    # An individual with no achievements: whatever the caller would like, the category comes from the rules.
    profile = {"name": "Wang Fang", "org_type": "individual", "field": "culture", "achievement": "none"}
    expected = assess(Profile.from_dict(profile)).to_dict()
    stored = client.post("/api/leads", json=lead_body(profile=profile)).json()["assessment"]
    assert {k: stored[k] for k in ("category", "qualified", "score", "rules_version")} == {
        k: expected[k] for k in ("category", "qualified", "score", "rules_version")
    }
    assert stored["category"] != "strategic_partner"


@pytest.mark.parametrize(
    "smuggled",
    [
        {"assessment": {"category": "strategic_partner", "qualified": True, "score": 100}},
        {"category": "strategic_partner"},
        {"status": "accepted"},
    ],
)
def test_a_caller_cannot_choose_the_category_or_status(
    client: TestClient, count: Callable[[], int], smuggled: Dict[str, Any]
) -> None:
    assert client.post("/api/leads", json=lead_body(**smuggled)).status_code == 422
    assert client.post("/api/leads", json=lead_body(profile={**PROFILE, "category": "strategic_partner"})).status_code == 422
    assert count() == 0


def test_a_handoff_is_stored_in_the_same_table_without_an_assessment(client: TestClient) -> None:
    response = client.post("/api/leads", json=handoff_body())
    assert response.status_code == 201
    stored = client.get(f"/api/leads/{response.json()['id']}", headers=ADMIN).json()
    assert stored["kind"] == "handoff" and stored["status"] == "new"
    assert stored["note"] == "When is the next application deadline?"
    assert stored["profile"] is None and stored["assessment"] is None


def test_a_handoff_with_a_profile_is_assessed(client: TestClient) -> None:
    stored = client.post("/api/leads", json=handoff_body(profile=PROFILE)).json()
    assert stored["assessment"]["category"] == "strategic_partner"


def test_an_unknown_lead_is_404(client: TestClient) -> None:
    assert client.get("/api/leads/00000000-0000-0000-0000-000000000000", headers=ADMIN).status_code == 404


# --- validation: 422 and nothing stored ------------------------------------------------------------


def _contact(**changes: Any) -> Dict[str, Any]:
    return {**lead_body()["contact"], **changes}


def _consent(**changes: Any) -> Dict[str, Any]:
    return {**lead_body()["consent"], **changes}


INVALID = {
    "no consent": lead_body(consent=_consent(given=False)),
    "consent not a real boolean": lead_body(consent=_consent(given="yes")),
    "consent missing": {k: v for k, v in lead_body().items() if k != "consent"},
    "consent time without zone": lead_body(consent=_consent(given_at="2025-01-02T03:04:00")),
    "consent in the future": lead_body(consent=_consent(given_at="2999-01-01T00:00:00Z")),
    "extra field": lead_body(extra="x"),
    "extra contact field": lead_body(contact=_contact(company="x")),
    "extra transcript field": lead_body(transcript=[{"sender": "user", "text": "hi", "timestamp": 1.0, "x": 1}]),
    "bad email": lead_body(contact=_contact(email="not-an-email")),
    "bad phone": lead_body(contact=_contact(phone="12345")),
    "letters for a phone": lead_body(contact=_contact(phone="call me")),
    "phone too long": lead_body(contact=_contact(phone="1" * 33)),
    "person too long": lead_body(contact=_contact(person="x" * 121)),
    "empty person": lead_body(contact=_contact(person="   ")),
    "conversation id too long": lead_body(conversation_id="c" * 129),
    "channel too long": lead_body(channel="c" * 33),
    "unknown language": lead_body(language="fr"),
    "unknown kind": lead_body(kind="complaint"),
    "note too long": lead_body(note="n" * 2001),
    "transcript too long": lead_body(transcript=[{"sender": "user", "text": "hi", "timestamp": 1.0}] * 301),
    "turn too long": lead_body(transcript=[{"sender": "user", "text": "x" * 4001, "timestamp": 1.0}]),
    "unknown sender": lead_body(transcript=[{"sender": "staff", "text": "hi", "timestamp": 1.0}]),
    "lead without profile": {k: v for k, v in lead_body().items() if k != "profile"},
    "profile too large": lead_body(profile={**PROFILE, "industry": "x" * 20000}),
    "profile field unknown to the rules": lead_body(profile={**PROFILE, "favourite_colour": "red"}),
    "profile value unknown to the rules": lead_body(profile={**PROFILE, "org_type": "pirate ship"}),
    "handoff without consent": handoff_body(consent=_consent(given=False)),
    "NUL in text": lead_body(transcript=[{"sender": "user", "text": "a\x00b", "timestamp": 1.0}]),
    "NUL in the profile": lead_body(profile={**PROFILE, "industry": "cars\x00"}),
    "NUL in a profile key": lead_body(profile={**PROFILE, "a\x00": 1}),
}


@pytest.mark.parametrize("body", INVALID.values(), ids=INVALID.keys())
def test_invalid_bodies_are_422_and_nothing_is_stored(client: TestClient, count: Callable[[], int], body: Dict[str, Any]) -> None:
    response = client.post("/api/leads", json=body)
    assert response.status_code == 422, response.text
    assert count() == 0


def test_error_messages_say_what_is_wrong(client: TestClient) -> None:
    consent = client.post("/api/leads", json=INVALID["no consent"]).json()["detail"]
    assert "consent" in consent[0]["msg"]
    profile = client.post("/api/leads", json=INVALID["profile value unknown to the rules"]).json()["detail"]
    assert profile[0]["loc"] == ["body", "profile"] and "org_type" in profile[0]["msg"]


def test_phones_are_normalised_to_e164_with_an_optional_region_hint(client: TestClient) -> None:
    hk = client.post("/api/leads", json=lead_body(contact=_contact(phone="2345 6789", phone_region="HK"))).json()
    intl = client.post("/api/leads", json=lead_body(contact=_contact(phone="+1 (415) 555-2671"))).json()
    none = client.post("/api/leads", json=lead_body(contact=_contact(phone=None))).json()
    assert (hk["contact"]["phone"], intl["contact"]["phone"], none["contact"]["phone"]) == ("+85223456789", "+14155552671", None)


def test_an_overlong_idempotency_key_is_422(client: TestClient, count: Callable[[], int]) -> None:
    assert client.post("/api/leads", json=lead_body(), headers={"Idempotency-Key": "k" * 201}).status_code == 422
    assert count() == 0


# --- idempotency -----------------------------------------------------------------------------------


def test_a_replay_returns_the_same_lead_with_200(client: TestClient, count: Callable[[], int]) -> None:
    headers = {"Idempotency-Key": "retry-1"}
    first = client.post("/api/leads", json=lead_body(), headers=headers)
    again = client.post("/api/leads", json=lead_body(), headers=headers)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert count() == 1


def test_the_same_key_with_another_body_is_422(client: TestClient, count: Callable[[], int]) -> None:
    headers = {"Idempotency-Key": "retry-2"}
    assert client.post("/api/leads", json=lead_body(), headers=headers).status_code == 201
    response = client.post("/api/leads", json=lead_body(note="something else"), headers=headers)
    assert response.status_code == 422 and "different request body" in response.json()["detail"]
    assert count() == 1


def test_without_a_key_every_request_stores_a_row(client: TestClient, count: Callable[[], int]) -> None:
    first = client.post("/api/leads", json=lead_body()).json()
    second = client.post("/api/leads", json=lead_body()).json()
    assert first["id"] != second["id"] and count() == 2


def test_concurrent_requests_with_one_key_store_one_row(client: TestClient, count: Callable[[], int]) -> None:
    threads = 8
    start = threading.Barrier(threads)

    def send(_: int) -> Any:
        start.wait()  # all at once, so several get past the lookup before the first insert commits
        return client.post("/api/leads", json=lead_body(), headers={"Idempotency-Key": "burst"})

    with ThreadPoolExecutor(threads) as pool:
        responses = list(pool.map(send, range(threads)))
    assert sorted(r.status_code for r in responses) == [200] * (threads - 1) + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert count() == 1


# --- deletion --------------------------------------------------------------------------------------


def test_delete_removes_every_record_of_the_conversation_only(client: TestClient, count: Callable[[], int]) -> None:
    client.post("/api/leads", json=lead_body(conversation_id="forget-me"))
    client.post("/api/leads", json=handoff_body(conversation_id="forget-me"))
    kept = client.post("/api/leads", json=lead_body(conversation_id="keep-me")).json()
    response = client.delete("/api/leads", params={"conversation_id": "forget-me"}, headers=ADMIN)
    assert response.status_code == 200 and response.json() == {"deleted": 2}
    assert count() == 1 and client.get(f"/api/leads/{kept['id']}", headers=ADMIN).status_code == 200
    assert client.delete("/api/leads", params={"conversation_id": "forget-me"}, headers=ADMIN).json() == {"deleted": 0}
    assert client.delete("/api/leads", headers=ADMIN).status_code == 422


# --- logs ------------------------------------------------------------------------------------------


def test_storing_a_lead_logs_no_contact_details(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        lead = client.post("/api/leads", json=lead_body()).json()
        logging.getLogger("bot.leads").warning("contact %s at %s", "li.hua@example.com", "+86 138 0013 8000")
    assert lead["id"] in caplog.text
    for secret in ("li.hua@example.com", "example.com", "13800138000", "138 0013 8000"):
        assert secret not in caplog.text


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert {"/api/leads", "/api/leads/{lead_id}"} <= set(schema["paths"])


def test_an_app_without_the_guard_still_checks_the_key(sessions: Any, monkeypatch: pytest.MonkeyPatch,
                                                       count: Callable[[], int]) -> None:
    """The routes' own check (require_key) stands in when the guard is not in front of them."""
    monkeypatch.setenv("INTAKE_API_KEY", API_KEY)
    monkeypatch.setenv("INTAKE_ADMIN_KEY", ADMIN["X-API-Key"])
    bare = FastAPI()
    bare.include_router(router)
    use_sessions(bare, sessions)
    plain = TestClient(bare)
    assert plain.post("/api/leads", json=lead_body(), headers={"X-API-Key": "wrong"}).status_code == 401
    assert plain.post("/api/leads", json=lead_body(), headers=ADMIN).status_code == 403 and count() == 0
    assert plain.post("/api/leads", json=lead_body(), headers={"X-API-Key": API_KEY}).status_code == 201 and count() == 1
