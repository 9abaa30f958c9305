"""POST /api/chat and GET /api/chat/history: forwarding, validation, limits, CORS, Rasa down."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from bot.chat import identity
from bot.main import create_app
from tests import redis_env
from tests.bot.chat.conftest import session_headers, web_sender
from tests.fakes.rasa import MORE, FakeRasa


def chat(client: TestClient, session_id: str, message, **extra):
    return client.post("/api/chat", json={"message": message, **extra}, headers=session_headers(session_id))


def test_forwards_to_rasa_as_web_sender_and_returns_text_and_buttons(client, chat_env: FakeRasa, session_id) -> None:
    response = chat(client, session_id, "What is the program?")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "messages": [{"text": "echo: What is the program?", "buttons": [{"title": "More", "payload": MORE}]}],
        "language": "en",
        "session": session_id,
    }
    sent = chat_env.received[-1]
    assert sent["sender"] == web_sender(session_id) and sent["message"] == "What is the program?"
    assert {k: v for k, v in sent["metadata"].items() if k != "turn_id"} == {"channel": "web", "language": "en"}
    assert len(sent["metadata"]["turn_id"]) == 32  # marks the turn, so a failed one can be undone


def test_a_button_payload_in_the_widget_language_sets_the_slot_once(client, chat_env: FakeRasa, session_id) -> None:
    chat(client, session_id, '/ask_program{"topic":"benefits","partner_category":"super_partner"}', lang="zh")
    chat(client, session_id, '/ask_program{"topic": "categories"}', lang="zh")
    assert chat_env.slots == [{"sender": web_sender(session_id), "name": "language", "value": "zh"}]
    # Typed words decide the language themselves (the actions read them): no slot call needed.
    assert chat(client, session_id, "hello", lang="zh").json()["language"] == "en"
    chat(client, session_id, '/ask_program{"topic": "categories"}', lang="zh")  # back to zh: the slot is set again
    assert [s["value"] for s in chat_env.slots] == ["zh", "zh"]


@pytest.mark.parametrize(
    "body, status, code",
    [
        (b"not json", 400, "invalid_json"),
        (b"\xff\xfe\x00binary", 400, "invalid_json"),
        (b"", 400, "invalid_json"),
        (b"[1, 2]", 422, "invalid"),
        (b'{"message": 5}', 422, "invalid"),
        (b'{"session_id": "abcdefgh", "message": "hi"}', 422, "invalid"),  # ids are issued, never chosen
        (b'{}', 422, "invalid"),
        (b'{"message": "   "}', 422, "empty"),
        (b'{"message": "\\u0000\\u0007\\u200b"}', 422, "empty"),
        (b'{"message": "hi", "lang": "fr"}', 422, "invalid"),
    ],
)
def test_bad_input_gets_a_clear_4xx_never_a_500(client, chat_env: FakeRasa, body: bytes, status: int, code: str) -> None:
    response = client.post("/api/chat", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()
    assert error["error"] == code and error["message"]["en"] and error["message"]["zh"]
    assert chat_env.received == []


def test_control_characters_are_dropped_before_forwarding(client, chat_env: FakeRasa, session_id) -> None:
    assert chat(client, session_id, "hel\x00lo\u200b\r\nthere").status_code == 200
    assert chat_env.received[-1]["message"] == "hello\nthere"


def test_message_size_is_limited(client, chat_env: FakeRasa, session_id) -> None:
    assert chat(client, session_id, "x" * 1000).status_code == 200
    too_long = chat(client, session_id, "x" * 1001)
    assert too_long.status_code == 413 and "1000" in too_long.json()["message"]["en"]
    huge = client.post("/api/chat", content=b"{" + b" " * 100_000 + b"}", headers={"Content-Type": "application/json"})
    assert huge.status_code == 413
    assert len(chat_env.received) == 1


def test_rate_limit_per_session_answers_429_with_retry_after(monkeypatch, chat_env: FakeRasa, session_id) -> None:
    monkeypatch.setenv("CHAT_RATE_PER_MINUTE", "3")
    with TestClient(create_app()) as client:
        assert [chat(client, session_id, f"q{i}").status_code for i in range(3)] == [200, 200, 200]
        limited = chat(client, session_id, "one more")
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert "wait" in limited.json()["message"]["en"] and "秒" in limited.json()["message"]["zh"]
        assert chat(client, identity.issue_token(), "another visitor").status_code == 200  # other sessions are not held up
    assert len(chat_env.received) == 4


def test_rate_limit_per_client_ip(monkeypatch, chat_env: FakeRasa, session_id) -> None:
    monkeypatch.setenv("CHAT_RATE_PER_MINUTE_IP", "2")
    with TestClient(create_app(), client=("203.0.113.7", 5000)) as client:
        codes = [chat(client, identity.issue_token(), "hi").status_code for i in range(3)]
    assert codes == [200, 200, 429]


def test_rasa_down_or_slow_gives_a_bilingual_503(client, chat_env: FakeRasa, session_id, monkeypatch) -> None:
    chat_env.down = True
    response = chat(client, session_id, "hello")
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable" and "智能助手" in response.json()["message"]["zh"]
    chat_env.down, chat_env.delay = False, 1.5  # the client's timeout is 1 s in these tests
    assert chat(client, session_id, "hello").status_code == 503


def test_rasa_unreachable_gives_503(monkeypatch, chat_env: FakeRasa, session_id) -> None:
    monkeypatch.setenv("RASA_URL", "http://127.0.0.1:9")
    with TestClient(create_app()) as client:
        assert chat(client, session_id, "hello").status_code == 503
        assert client.get("/api/chat/history", headers=session_headers(session_id)).status_code == 503


def test_cors_only_for_configured_origins(client, chat_env: FakeRasa, session_id) -> None:
    allowed = "https://partner-site.example"
    preflight = client.options("/api/chat", headers={"Origin": allowed, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == allowed
    assert "POST" in preflight.headers["access-control-allow-methods"]
    response = client.post("/api/chat", json={"message": "hi"}, headers={**session_headers(session_id), "Origin": allowed})
    assert response.headers["access-control-allow-origin"] == allowed

    other = "https://elsewhere.example"
    refused = client.options("/api/chat", headers={"Origin": other, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in refused.headers
    forbidden = client.post("/api/chat", json={"message": "hi"}, headers={**session_headers(session_id), "Origin": other})
    assert forbidden.status_code == 403
    same_site = client.post(
        "/api/chat", json={"message": "hi"}, headers={**session_headers(session_id), "Origin": "http://testserver"}
    )
    assert same_site.status_code == 200
    assert len(chat_env.received) == 2


def test_history_shows_button_titles_not_payloads_and_a_welcome(client, chat_env: FakeRasa, session_id) -> None:
    empty = client.get("/api/chat/history", params={"lang": "zh"}, headers=session_headers(session_id)).json()
    assert empty["messages"] == [] and "城市合伙人" in empty["welcome"]["text"]
    assert [b["payload"] for b in empty["welcome"]["buttons"]][0] == '/ask_program{"topic":"overview"}'

    chat(client, session_id, "hi")
    chat(client, session_id, MORE)  # the "More" button the fake offered
    chat(client, session_id, '/ask_program{"topic": "categories"}')  # a welcome button: titled by its topic label
    history = client.get("/api/chat/history", params={"lang": "en"}, headers=session_headers(session_id)).json()
    user = [m["text"] for m in history["messages"] if m["sender"] == "user"]
    assert user == ["hi", "More", "The four categories"]
    assert history["messages"][1] == {
        "sender": "bot",
        "text": "echo: hi",
        "buttons": [{"title": "More", "payload": MORE}],
    }


def test_a_conversation_is_reached_only_with_the_token_the_server_issued(client, chat_env: FakeRasa) -> None:
    first = chat(client, "", "hello").json()["session"]  # no token: a new conversation and its token
    assert identity.token_valid(first) and chat_env.received[-1]["sender"] == web_sender(first)
    assert chat(client, first, "again").json()["session"] == first  # sent back in the header: the same one
    assert chat_env.received[-1]["sender"] == web_sender(first)
    nonce, tag = first.split(".")
    for forged in (nonce + "." + tag[::-1], "abcdefgh12345678", first.split(".")[0], "x" * 45, "../../etc/passwd"):
        body = chat(client, forged, "let me in").json()  # a forged, chosen or cut token reaches a fresh conversation
        assert body["session"] not in (first, forged) and chat_env.received[-1]["sender"] != web_sender(first)
    history = client.get("/api/chat/history", headers=session_headers("abcdefgh12345678")).json()
    assert history["messages"] == [] and history["session"] != "abcdefgh12345678"
    assert client.get("/api/chat/history", params={"session_id": first}).json()["messages"] == []  # never by URL


def test_rasa_and_the_logs_see_only_the_derived_id(client, chat_env: FakeRasa, session_id, caplog) -> None:
    chat(client, session_id, "hello")
    sender = chat_env.received[-1]["sender"]
    assert session_id not in sender and session_id.split(".")[0] not in sender and len(sender) == len("web-") + 32
    assert session_id not in caplog.text


def test_rate_limiter_lets_messages_through_when_redis_is_down(monkeypatch, chat_env: FakeRasa, session_id) -> None:
    redis_env.use_dead_redis(monkeypatch)
    monkeypatch.setenv("CHAT_RATE_PER_MINUTE", "1")
    with TestClient(create_app()) as client:
        assert [chat(client, session_id, "hi").status_code for _ in range(2)] == [200, 200]


def test_openapi_documents_the_chat_endpoint(client) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/chat" in spec["paths"] and "429" in json.dumps(spec["paths"]["/api/chat"])
