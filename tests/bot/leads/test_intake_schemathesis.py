"""schemathesis over the intake's own OpenAPI document (served by bot.main:app), against the ASGI app on a
temporary SQLite database.

Every /api/leads operation is run with schema-valid (positive) and schema-invalid (negative) data, with
the right X-API-Key (so bodies get past the key check) and with a generated one. Each response must not
be a 5xx, must have a documented status, content type and body shape, and schema-invalid input must not
be accepted. On top, hand-made valid bodies carry generated text in every free-text field (any Unicode
category, NUL, lone surrogates, bidi overrides) and odd numbers, because generated bodies rarely pass the
intake's business rules. A ledger follows what the API said it did: after each test the `leads` table
holds exactly the rows answered 201 (less those a DELETE said it removed) — nothing from rejected input.

Deterministic: hypothesis derandomized, no example database. About 20 s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.db import make_engine, upgrade
from bot.leads.models import Lead
from bot.main import create_app
from tests import redis_env
from tests.bot.leads.conftest import ADMIN_KEY as conftest_admin_key
from tests.bot.leads.conftest import PROFILE, handoff_body, lead_body
from tests.bot.sessions import use_sessions

API_KEY = "schemathesis-intake-key-5f0c2e9a41d7"  # long and random-looking: a generated header never guesses it
ADMIN_KEY = "schemathesis-admin-key-9b1e77c0d2aa"  # the read/erase scope (GET and DELETE)


def key_for(method: str) -> str:
    return API_KEY if method.upper() == "POST" else ADMIN_KEY
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
SETTINGS = dict(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)


@dataclass
class Ledger:
    """What the API said it stored and deleted: lead id -> conversation id."""

    created: Dict[str, str] = field(default_factory=dict)
    answers: Dict[int, int] = field(default_factory=dict)  # status -> how many

    def record(self, method: str, url: str, status: int, body: Any) -> None:
        self.answers[status] = self.answers.get(status, 0) + 1
        if method == "POST" and status == 201:
            assert body["id"] not in self.created
            self.created[body["id"]] = body["conversation_id"]
        elif method == "POST" and status == 200:  # a replay: stored before, not again
            assert self.created.get(body["id"]) == body["conversation_id"]
        elif method == "DELETE" and status == 200:
            conversation = parse_qs(urlsplit(url).query, keep_blank_values=True).get("conversation_id", [None])[0]
            gone = [lead_id for lead_id, conv in self.created.items() if conv == conversation]
            assert body["deleted"] == len(gone), (conversation, body)
            for lead_id in gone:
                del self.created[lead_id]


@dataclass
class Intake:
    schema: Any
    client: TestClient
    sessions: sessionmaker[Session]
    ledger: Ledger

    def call(self, case: Any) -> Any:
        """A generated case through schemathesis' own ASGI transport, checked and booked."""
        response = case.call()
        case.validate_response(response, checks=CHECKS)
        self._book(case.method.upper(), str(response.request.url), response)
        return response

    def post_raw(self, body: Dict[str, Any], headers: Optional[Dict[str, str]] = None) -> httpx.Response:
        """A body as a sloppy client writes it (lone surrogates as \\udXXX escapes, NaN, Infinity), checked and booked."""
        headers = {"X-API-Key": API_KEY, "Content-Type": "application/json", **(headers or {})}
        response = self.client.post("/api/leads", content=json.dumps(body, allow_nan=True).encode(), headers=headers)
        self.schema["/api/leads"]["POST"].Case(body={}, headers=headers).validate_response(response, checks=CHECKS)
        self._book("POST", str(response.request.url), response)
        return response

    def _book(self, method: str, url: str, response: Any) -> None:
        try:
            body = response.json()
        except ValueError:
            body = None
        self.ledger.record(method, url, response.status_code, body)

    def stored(self) -> Dict[str, str]:
        with self.sessions() as session:
            return {lead.id: lead.conversation_id for lead in session.scalars(select(Lead))}


@pytest.fixture(scope="module")
def intake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Intake]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INTAKE_API_KEY", API_KEY)
        mp.setenv("INTAKE_ADMIN_KEY", ADMIN_KEY)
        redis_env.use_db(mp, 13)  # GET /api/leads/outbox reads the outbox: the test database
        url = f"sqlite:///{Path(tmp_path_factory.mktemp('schemathesis')) / 'leads.db'}"
        mp.setenv("DATABASE_URL", url)
        upgrade(url)
        engine = make_engine(url)
        sessions = sessionmaker(engine, expire_on_commit=False)

        app = create_app()
        use_sessions(app, sessions)
        schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex=r"^/api/leads")
        with TestClient(app) as client:
            yield Intake(schema, client, sessions, Ledger())
        engine.dispose()


@pytest.fixture
def check_storage(intake: Intake) -> Iterator[None]:
    yield
    assert intake.stored() == intake.ledger.created, "rows in the database differ from what the API answered 201"


def _run(intake: Intake, strategy: Any, examples: int) -> None:
    @given(case=strategy)
    @settings(max_examples=examples, **SETTINGS)
    def run(case: Any) -> None:
        intake.call(case)

    run()


def test_the_spec_lists_the_intake_operations(intake: Intake) -> None:
    operations = {(r.ok().method.upper(), r.ok().path) for r in intake.schema.get_all_operations()}
    assert operations == {
        ("POST", "/api/leads"),
        ("DELETE", "/api/leads"),
        ("GET", "/api/leads/outbox"),
        ("GET", "/api/leads/{lead_id}"),
    }


OPERATIONS = [
    ("POST", "/api/leads", 150),
    ("DELETE", "/api/leads", 40),
    ("GET", "/api/leads/{lead_id}", 40),
    ("GET", "/api/leads/outbox", 5),
]


# With the key fixed, GET /api/leads/outbox has no parameter left to make invalid: positive data only.
WITH_KEY = [
    pytest.param(method, path, examples, mode, id=f"{mode.value}-{method} {path}")
    for method, path, examples in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if not (path.endswith("/outbox") and mode is GenerationMode.NEGATIVE)
]


@pytest.mark.parametrize("method, path, examples, mode", WITH_KEY)
def test_with_the_key(intake: Intake, check_storage: None, method: str, path: str, examples: int, mode: GenerationMode) -> None:
    operation = intake.schema[path][method]
    _run(intake, operation.as_strategy(mode, headers={"X-API-Key": key_for(method)}), examples)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize("method, path, examples", OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_without_the_key(
    intake: Intake, check_storage: None, method: str, path: str, examples: int, mode: GenerationMode
) -> None:
    before = dict(intake.ledger.answers)
    _run(intake, intake.schema[path][method].as_strategy(mode), max(5, examples // 3))
    new = {status: n - before.get(status, 0) for status, n in intake.ledger.answers.items() if n != before.get(status, 0)}
    # Without the key: 401, whatever the body (the key is checked before the body is read: bot.leads.guard).
    assert set(new) <= {401}, new


# --- valid bodies with generated text -----------------------------------------------------------------

TEXT = st.lists(
    st.one_of(
        st.characters(codec=None, exclude_categories=()),  # every category but surrogates
        st.characters(categories=["Cs"]),  # lone surrogates: sent as "\udXXX" escapes in the JSON
        st.sampled_from(["\x00", "\u202e", "\u200f", "\ufeff", "مرحبا", "Привет", "नमस्ते", "👩‍💻", "广州", " "]),
    ),
    max_size=30,
).map("".join)
NUMBER = st.one_of(st.integers(-(10**30), 10**30), st.floats(allow_nan=True, allow_infinity=True))


@st.composite
def fuzzed_bodies(draw: Callable[..., Any]) -> Dict[str, Any]:
    body = draw(st.sampled_from([lead_body, handoff_body]))()
    where = draw(st.sampled_from(["person", "note", "transcript", "conversation_id", "notice_version", "profile", "employees"]))
    text = draw(TEXT)
    if where == "person":
        body["contact"]["person"] = text
    elif where == "note":
        body["note"] = text
    elif where == "transcript":
        body["transcript"][0]["text"] = text
    elif where == "conversation_id":
        body["conversation_id"] = text
    elif where == "notice_version":
        body["consent"]["notice_version"] = text
    elif where == "profile":
        body["profile"] = {**PROFILE, "name": text}
    else:
        body["profile"] = {**PROFILE, "org_type": "enterprise", "employees": draw(NUMBER)}
    return body


def test_valid_bodies_with_generated_text(intake: Intake, check_storage: None) -> None:
    statuses: List[int] = []

    @given(body=fuzzed_bodies())
    @settings(max_examples=200, **SETTINGS)
    def run(body: Dict[str, Any]) -> None:
        statuses.append(intake.post_raw(body).status_code)

    run()
    assert set(statuses) <= {201, 422} and {201, 422} <= set(statuses), sorted(set(statuses))


FORMER_500S = {
    "surrogate-in-profile": lead_body(profile={**PROFILE, "name": "\ud800"}),
    "surrogate-in-person": lead_body(contact={"person": "Li \udc00", "email": "li@example.com"}),
    "infinity": lead_body(profile={**PROFILE, "org_type": "enterprise", "employees": float("inf")}),
    "nan": lead_body(profile={**PROFILE, "org_type": "enterprise", "employees": float("nan")}),
    "deep-profile": lead_body(profile={**PROFILE, "name": [[[[[[[[[["deep"]]]]]]]]]]}),
    "very-deep-profile": lead_body(profile={**PROFILE, "name": json.loads("[" * 900 + "]" * 900)}),
    "given-at-overflow": lead_body(consent={"given": True, "notice_version": "v1", "given_at": "0001-01-01T00:00:00+05:00"}),
}


@pytest.mark.parametrize("body", list(FORMER_500S.values()), ids=list(FORMER_500S))
def test_bodies_that_were_500s_are_clear_422s(client: TestClient, count: Callable[[], int], body: Dict[str, Any]) -> None:
    """On SQLite and PostgreSQL (the `client` fixture of conftest.py), nothing stored."""
    raw = json.dumps(body, allow_nan=True).encode()
    response = client.post("/api/leads", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["msg"]
    assert count() == 0


@pytest.mark.parametrize("value", ["abc\x00def", "\udc80", "\x00"])
def test_nul_in_an_id_or_a_conversation_id_is_a_plain_answer(client: TestClient, value: str) -> None:
    # PostgreSQL refuses NUL even in a query's parameters: it was a 500 there.
    admin = {"X-API-Key": conftest_admin_key}
    assert client.get("/api/leads/" + quote(value.encode("utf-8", "surrogatepass"), safe=""), headers=admin).status_code == 404
    assert client.delete("/api/leads", params={"conversation_id": value.encode("utf-8", "surrogatepass")},
                         headers=admin).json() == {"deleted": 0}


def test_replay_and_conflict_answers_follow_the_schema(intake: Intake, check_storage: None) -> None:
    key = {"Idempotency-Key": "schemathesis-replay-1"}
    assert intake.post_raw(handoff_body(conversation_id="replay"), key).status_code == 201
    replay = intake.post_raw(handoff_body(conversation_id="replay"), key)
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    conflict = intake.post_raw(handoff_body(conversation_id="other"), key)
    assert conflict.status_code == 422 and isinstance(conflict.json()["detail"], str)
