"""POST /api/chat and GET /api/chat/history against bad input, generated (hypothesis) and hand-picked: huge,
empty, binary, malformed or deeply nested JSON, wrong types and content types, control characters, NUL,
lone surrogates, bidi overrides, many scripts.

For every request: no 5xx (a 503 only when Rasa is down, and only for input that was otherwise fine), every
4xx is the gateway's JSON error ({error, message: {en, zh}}), and rejected input never reaches Rasa (the
fake records nothing) and leaves no Redis key for that session. Accepted input reaches Rasa cleaned.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List, Optional

import pytest
import redis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.responses import Response

from bot.chat import identity
from bot.chat.schemas import clean_text
from tests import redis_env
from tests.bot.chat.conftest import REDIS_DB, web_sender
from tests.fakes.rasa import FakeRasa
from tests.fakes.server import ServerThread

SETTINGS = dict(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAX_CHARS = 1000  # CHAT_MAX_MESSAGE_CHARS default
NASTY = [
    "\x00",
    "\x07",
    "\x1b[31m",
    "\u202e",
    "\u2066",
    "\u200b",
    "\ufeff",
    "\ud800",
    "\udfff",
    "\r\n",
    "\t",
    " ",
    "مرحبا بكم",
    "Здравствуйте",
    "नमस्ते दुनिया",
    "👩‍💻🇨🇳",
    "广州城市合伙人",
    "/restart",
    '/inform{"choice":',
    "\\u0000",
]


class CountingRasa(FakeRasa):
    """The fake Rasa, also recording which conversations' trackers were read or written."""

    def __init__(self) -> None:
        super().__init__()
        self.tracker_calls: List[str] = []

    async def _tracker(self, request: Request) -> Response:
        self.tracker_calls.append(request.path_params["sender"])
        return await super()._tracker(request)

    async def _append(self, request: Request) -> Response:
        self.tracker_calls.append(request.path_params["sender"])
        return await super()._append(request)


@pytest.fixture
def rasa() -> Iterator[FakeRasa]:  # overrides conftest's: chat_env and client use this one
    fake = CountingRasa()
    with ServerThread(fake.app) as server:
        fake.url = server.url  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
def store() -> Iterator[redis.Redis]:
    client = redis_env.client(int(REDIS_DB), decode_responses=True)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def no_retry_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_RASA_RETRY_DELAYS", "")  # Rasa down: answer 503 at once


def keys_of(store: redis.Redis, token: str) -> List[str]:
    conversation = identity.conversation_of(token)
    return [k for k in store.scan_iter(match="gzcp:*", count=1000) if conversation in k or token in k]


def assert_gateway_error(response: Any) -> None:
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"]
    assert isinstance(body["message"]["en"], str) and body["message"]["en"]
    assert isinstance(body["message"]["zh"], str) and body["message"]["zh"]


class Checker:
    def __init__(self, client: TestClient, rasa: CountingRasa, store: redis.Redis) -> None:
        self.client, self.rasa, self.store = client, rasa, store
        self.statuses: Dict[int, int] = {}

    def post(self, content: bytes, content_type: Optional[str] = "application/json", token: Optional[str] = None) -> Any:
        """POST `content`, in the conversation `token` names (a fresh one when None)."""
        token = identity.issue_token() if token is None else token
        received, slots = len(self.rasa.received), len(self.rasa.slots)
        headers = {"Content-Type": content_type} if content_type is not None else {}
        response = self.client.post("/api/chat", content=content, headers={**headers, identity.HEADER: token})
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500 or (response.status_code == 503 and self.rasa.down), response.text
        if response.status_code >= 400:
            assert_gateway_error(response)
        if response.status_code in (400, 403, 413, 422, 429):  # rejected: Rasa never saw it, Redis holds nothing of it
            assert len(self.rasa.received) == received and len(self.rasa.slots) == slots
            if identity.token_valid(token):
                assert keys_of(self.store, token) == []
                assert web_sender(token) not in self.rasa.tracker_calls
        if response.status_code == 200:
            sent = self.rasa.received[-1]["message"]
            assert sent and sent == clean_text(sent) and len(sent) <= MAX_CHARS
            assert not any(ch in sent for ch in "\x00\x07\u202e\ufeff\ud800")
        return response


@pytest.fixture
def checker(client: TestClient, chat_env: CountingRasa, store: redis.Redis) -> Checker:
    return Checker(client, chat_env, store)


# --- generated ----------------------------------------------------------------------------------------

ANY_CHAR = st.one_of(st.characters(codec=None, exclude_categories=()), st.characters(categories=["Cs"]))
TEXT = st.lists(st.one_of(ANY_CHAR, st.sampled_from(NASTY)), max_size=25).map("".join)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), TEXT)
JSON = st.recursive(SCALARS, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(TEXT, kids, max_size=3), max_leaves=8)
MISSING = object()


@st.composite
def chat_bodies(draw: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {}
    for name, values in (
        ("message", st.one_of(TEXT, JSON)),
        ("lang", st.one_of(st.sampled_from(["en", "zh", "fr", ""]), JSON)),
        ("session_id", st.one_of(TEXT, JSON)),  # the old client's field: refused, never a way in
    ):
        value = draw(st.one_of(st.just(MISSING), values))
        if value is not MISSING:
            body[name] = value
    if draw(st.booleans()):
        body.update(draw(st.dictionaries(TEXT, JSON, max_size=2)))
    return body


# Header values a client may send instead of an issued token (HTTP headers carry latin-1 only).
FORGED = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)


def encode(value: Any, ascii_only: bool) -> bytes:
    # ensure_ascii writes lone surrogates as \udXXX escapes; without it they become bytes that are not UTF-8.
    return json.dumps(value, ensure_ascii=ascii_only, allow_nan=True).encode("utf-8", "surrogatepass")


@given(body=chat_bodies(), ascii_only=st.booleans())
@settings(max_examples=250, **SETTINGS)
@example(body={"message": "\ud800"}, ascii_only=True)
@example(body={"message": "\u202e\u200b\x00"}, ascii_only=True)
@example(body={"message": ["hi"]}, ascii_only=True)
@example(body={"message": "hi", "lang": "fr"}, ascii_only=True)
@example(body={"message": "x" * (MAX_CHARS + 1)}, ascii_only=True)
@example(body={"session_id": "abc\x00defgh", "message": "hi"}, ascii_only=True)
def test_generated_json_bodies(checker: Checker, body: Dict[str, Any], ascii_only: bool) -> None:
    response = checker.post(encode(body, ascii_only))
    if "session_id" in body:
        assert response.status_code in (400, 413, 422)


@given(token=FORGED)
@settings(max_examples=80, **SETTINGS)
@example(token="abcdefgh12345678")
@example(token="../../etc/passwd")
def test_a_token_the_server_did_not_issue_reaches_only_a_new_conversation(checker: Checker, token: str) -> None:
    response = checker.post(b'{"message": "hi"}', token=token)
    assert response.status_code == 200
    issued = response.json()["session"]
    assert issued != token and identity.token_valid(issued)
    assert checker.rasa.received[-1]["sender"] == web_sender(issued)


@given(
    raw=st.binary(max_size=300),
    content_type=st.sampled_from(
        [
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "image/png",
            "application/json; charset=utf-16",
            "",
            None,
        ]
    ),
)
@settings(max_examples=150, **SETTINGS)
@example(raw=b"", content_type=None)
@example(raw=b"\xff\xfe\x00\x00", content_type="application/json")
@example(raw=b"\xef\xbb\xbf{}", content_type="application/json")
@example(raw=b"message=hi", content_type="application/x-www-form-urlencoded")
def test_generated_raw_bytes_and_content_types(checker: Checker, raw: bytes, content_type: Optional[str]) -> None:
    response = checker.post(raw, content_type=content_type)
    assert response.status_code in (400, 413, 422)


@given(
    pieces=st.lists(st.one_of(st.sampled_from(NASTY), st.text(min_size=1, max_size=8)), min_size=1, max_size=12),
    lang=st.sampled_from([None, "en", "zh"]),
)
@settings(max_examples=120, **SETTINGS)
def test_any_script_or_control_character_in_a_valid_message(checker: Checker, pieces: List[str], lang: Optional[str]) -> None:
    """Valid envelope, any text: answered with its cleaned text, or refused as empty/too long; never a 5xx."""
    token = identity.issue_token()
    message = "".join(pieces)
    body = {"message": message, **({"lang": lang} if lang else {})}
    response = checker.post(encode(body, ascii_only=True), token=token)
    cleaned = clean_text(message)
    if not cleaned:
        assert response.status_code == 422 and response.json()["error"] == "empty"
    elif len(cleaned) > MAX_CHARS:
        assert response.status_code == 413
    else:
        assert response.status_code == 200
        assert checker.rasa.received[-1] == {
            "sender": web_sender(token),
            "message": cleaned,
            "metadata": checker.rasa.received[-1]["metadata"],
        }


# --- hand-picked --------------------------------------------------------------------------------------

VALID = b'{"message": "hi"}'


@pytest.mark.parametrize(
    "content, status",
    [
        (b"", 400),
        (b"null", 422),
        (b"[" * 8000, 400),  # nested past Python's recursion limit: was a 500
        (b'{"message": ' + b"[" * 5000 + b"]" * 2000, 400),
        (b'{"a":' * 1600 + b"1" + b"}" * 1600, 413),
        (b'{"message": "' + b"a" * 10_000_000 + b'"}', 413),
        (b'{"message": "' + "好".encode() * 1001 + b'"}', 413),
        (b'{"message": "\\u0000"}', 422),
        (b'{"message": "\\ud800\\udfff\\ud800"}', 200),  # a valid pair, then a lone one
        (b'{"message": 1e999}', 422),
        (b'{"message": "' + b"9" * 1000 + b'"}', 200),
        (b'{"message": ' + b"9" * 5000 + b"}", 400),  # int beyond 4300 digits
        (b'{"message": NaN}', 422),
        (b'{"message": "hi", "session_id": "../../../etc/passwd"}', 422),
        (b'{"message": "hi", "message": "../../../etc/passwd"}', 200),
        ('{"message": "مرحبا \u202eابحرم"}'.encode(), 200),
        (VALID.decode().encode("utf-16"), 400),
        (VALID.decode().encode("utf-32"), 400),
    ],
    ids=lambda v: v[:40].decode("latin-1") if isinstance(v, bytes) else str(v),
)
def test_hand_picked_bodies(checker: Checker, content: bytes, status: int) -> None:
    assert checker.post(content).status_code == status


def test_a_huge_body_without_content_length_is_cut_off(checker: Checker, chat_env: FakeRasa) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"message": "'
        for _ in range(200):
            yield b"a" * 65536
        yield b'"}'

    response = checker.client.post("/api/chat", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and chat_env.received == []


def test_rasa_down_is_a_503_only_for_input_that_was_fine(checker: Checker, chat_env: FakeRasa) -> None:
    chat_env.down = True
    assert checker.post(VALID).status_code == 503
    assert checker.post(b"[" * 8000).status_code == 400
    assert checker.post(b'{"session_id": "x", "message": "hi"}').status_code == 422


QUERIES = st.dictionaries(st.sampled_from(["session_id", "lang", "x"]), TEXT, max_size=3)  # session_id: ignored


@given(query=QUERIES)
@settings(max_examples=120, **SETTINGS)
@example(query={"session_id": "\x00" * 8})
@example(query={"session_id": "a" * 20_000})
@example(query={"session_id": "abcdefgh", "lang": "\ud800"})
def test_history_with_any_query(checker: Checker, query: Dict[str, str]) -> None:
    encoded = {k: v.encode("utf-8", "surrogatepass") for k, v in query.items()}
    calls = len(checker.rasa.tracker_calls)  # type: ignore[attr-defined]
    response = checker.client.get("/api/chat/history", params=encoded)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert_gateway_error(response)
        assert len(checker.rasa.tracker_calls) == calls  # type: ignore[attr-defined]
    else:
        assert identity.token_valid(response.json()["session"]) and response.json()["messages"] == []
