"""Bad input over real HTTP: the web app served by uvicorn (each test module its own process and port).

1. The intake: the `st` CLI (schemathesis, every phase: examples, coverage, fuzzing, stateful) against
   /openapi.json for the /api/leads operations, with the API key, on a temporary SQLite database. No 5xx,
   documented statuses, content types and bodies, schema-invalid input refused; and afterwards the
   database holds exactly the leads the run was answered 201 for (less those a DELETE said it removed),
   read from the run's HAR report.
2. The chat gateway in front of the real Rasa (the `stack` fixture): a fixed list of nasty inputs. No
   5xx; what is rejected leaves no user event in Rasa's tracker for that sender; what is accepted does.

Ports: TEST_BAD_INPUT_PORT (18100) for the intake, TEST_BAD_INPUT_CHAT_PORT (18101) for the gateway.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.chat import identity
from bot.db import make_engine
from bot.leads.models import Lead
from bot.metrics.exporter import sample
from bot.shared.redis_conn import env_for_db
from tests.conftest import ROOT
from tests.integration.conftest import Stack, _wait, new_conversation

INTAKE_PORT = int(os.environ.get("TEST_BAD_INPUT_PORT", "18100"))
CHAT_PORT = int(os.environ.get("TEST_BAD_INPUT_CHAT_PORT", "18101"))
API_KEY = "bad-input-intake-key-3d9a7f20c1"
ST = ROOT / ".venv-app/bin/st"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    ]
)


class WebApp:
    def __init__(self, url: str, log: Path, database_url: str) -> None:
        self.url, self.log, self.database_url = url, log, database_url

    def server_errors(self) -> List[str]:
        return [line for line in self.log.read_text().splitlines() if '" 5' in line or "Traceback" in line]


@contextmanager
def serve(port: int, directory: Path, **env: str) -> Iterator[WebApp]:
    """bot.main:app under uvicorn with a fresh SQLite database (migrated first), until the block ends."""
    database_url = f"sqlite:///{directory / 'leads.db'}"
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        **env_for_db(os.environ, int(os.environ.get("REDIS_DB", "15"))),
        "CHAT_RATE_PER_MINUTE": "1000",
        "CHAT_RATE_PER_MINUTE_IP": "10000",
        "METRICS_TOKEN": "",
        **env,
    }
    subprocess.run([sys.executable, "-m", "bot.db", "upgrade"], cwd=ROOT, env=full_env, check=True, capture_output=True)
    log = directory / "app.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bot.main:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=full_env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{url}/healthz", proc, log, 60)
        yield WebApp(url, log, database_url)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# --- 1. the intake under the schemathesis CLI ------------------------------------------------------------


@pytest.fixture(scope="module")
def intake_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebApp]:
    with serve(INTAKE_PORT, tmp_path_factory.mktemp("bad-input-intake"), INTAKE_API_KEY=API_KEY) as app:
        yield app


def _ledger(har: Dict[str, Any]) -> Tuple[Dict[str, str], Dict[int, int]]:
    """Lead id -> conversation id for what the API said it stored and did not delete; and status counts."""
    created: Dict[str, str] = {}
    statuses: Dict[int, int] = {}
    for entry in har["log"]["entries"]:
        request, response = entry["request"], entry["response"]
        status = response["status"]
        statuses[status] = statuses.get(status, 0) + 1
        text = (response.get("content") or {}).get("text") or ""
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        path = urlsplit(request["url"]).path
        if request["method"] == "POST" and path == "/api/leads" and status == 201:
            created[body["id"]] = body["conversation_id"]
        elif request["method"] == "DELETE" and path == "/api/leads" and status == 200:
            conversation = parse_qs(urlsplit(request["url"]).query, keep_blank_values=True).get("conversation_id", [None])[0]
            gone = [lead_id for lead_id, conv in created.items() if conv == conversation]
            assert body["deleted"] == len(gone), (conversation, body)
            for lead_id in gone:
                del created[lead_id]
    return created, statuses


def test_schemathesis_cli_against_the_intake_over_http(intake_app: WebApp, tmp_path: Path) -> None:
    har_path = tmp_path / "run.har"
    command = [
        str(ST), "run", f"{intake_app.url}/openapi.json",
        "--include-path-regex", "^/api/leads",
        "-H", f"X-API-Key: {API_KEY}",
        "--checks", CHECKS,
        "--generation-deterministic",
        "--max-examples", "40",
        "--workers", "1",
        "--no-color",
        "--report", "har", "--report-har-path", str(har_path),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "4 selected" in done.stdout, done.stdout[-3000:]

    created, statuses = _ledger(json.loads(har_path.read_text()))
    assert not [s for s in statuses if s >= 500], statuses
    assert statuses.get(201, 0) > 0 and statuses.get(422, 0) > 0, statuses  # it got past the checks, and was refused
    engine = make_engine(intake_app.database_url)
    try:
        with sessionmaker(engine)() as session:
            stored = {lead.id: lead.conversation_id for lead in session.scalars(select(Lead))}
    finally:
        engine.dispose()
    assert stored == created, "the database holds rows the run was not answered 201 for (or lacks some)"
    assert intake_app.server_errors() == []


# --- 2. the chat gateway in front of the real Rasa ---------------------------------------------------------


@pytest.fixture(scope="module")
def chat_app(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebApp]:
    with serve(
        CHAT_PORT,
        tmp_path_factory.mktemp("bad-input-chat"),
        RASA_URL=stack.rasa_url,
        RASA_URLS=stack.rasa_url,
        RASA_AUTH_TOKEN=stack.token,
    ) as app:
        yield app


REJECTED: List[Tuple[str, bytes, Optional[str]]] = [
    ("empty body", b"", "application/json"),
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "image/png"),
    ("malformed json", b'{"message": "hi"', "application/json"),
    ("json null", b"null", "application/json"),
    ("nested 5000 deep", b"[" * 5000 + b"]" * 5000, "application/json"),
    ("message nested deep", b'{"message": ' + b"[" * 3000 + b"]" * 3000 + b"}", "application/json"),
    ("huge body", b'{"message": "' + b"A" * 2_000_000 + b'"}', "application/json"),
    ("1001 characters", ('{"message": "' + "汉" * 1001 + '"}').encode(), "application/json"),
    ("message is a number", b'{"message": 42}', "application/json"),
    ("message is a list", b'{"message": ["hi"]}', "application/json"),
    ("message is an object", b'{"message": {"text": "hi"}}', "application/json"),
    ("message missing", b'{}', "application/json"),
    ("only NUL", b'{"message": "\\u0000\\u0000"}', "application/json"),
    ("only control characters", b'{"message": "\\u0007\\u001b\\u0008"}', "application/json"),
    ("only bidi overrides", b'{"message": "\\u202e\\u2066\\u200f"}', "application/json"),
    ("only a lone surrogate", b'{"message": "\\ud800"}', "application/json"),
    ("raw surrogate bytes", b'{"message": "\xed\xa0\x80"}', "application/json"),
    ("latin-1 bytes", b'{"message": "caf\xe9"}', "application/json"),
    ("UTF-16", '{"message": "hi"}'.encode("utf-16"), "application/json"),
    ("BOM first", b'\xef\xbb\xbf{"message": "hi"}', "application/json"),
    ("lang fr", b'{"message": "hi", "lang": "fr"}', "application/json"),
    ("NaN message", b'{"message": NaN}', "application/json"),
    ("form encoded", b"message=hi", "application/x-www-form-urlencoded"),
    ("a chosen session id", b'{"session_id": "../../etc", "message": "hi"}', "application/json"),
]
ACCEPTED: List[Tuple[str, str]] = [
    ("Arabic", "ما هو برنامج الشراكة في مدينة قوانغتشو؟"),
    ("Cyrillic", "Что такое программа городских партнёров?"),
    ("Devanagari", "शहर भागीदार कार्यक्रम क्या है?"),
    ("emoji", "👋🏽 what is the program? 🇨🇳✨👩‍💻"),
    ("RTL override inside", "hello \u202eworld\u202c what is the program?"),
    ("NUL inside", "what\x00 is the\x00 program?"),
    ("lone surrogate inside", "what is \ud800the program?"),
    ("control characters inside", "what\x07 is\x1b[31m the program?\x08"),
    ("Chinese", "城市合伙人计划是什么？"),
    ("1000 characters", "城" * 1000),
    ("script tag", "<script>alert(1)</script> what is the program?"),
    ("SQL", "'; DROP TABLE leads; -- what benefits?"),
    ("intent payload with odd entities", '/ask_program{"topic": [1, {"$ne": null}], "partner_category": "x"}'),
    ("unknown intent payload", "/no_such_intent"),
    ("broken payload", '/inform{"choice": '),
    ("fallback intent payload", "/nlu_fallback"),
    ("restart", "/restart"),
    ("template braces", "{sender} {{message}} %s %(x)s ${jndi:ldap://x}"),
]


def _user_events(stack: Stack, sender: str) -> List[Dict[str, Any]]:
    response = httpx.get(f"{stack.rasa_url}/conversations/{sender}/tracker", params={"token": stack.token}, timeout=30)
    response.raise_for_status()
    return [e for e in response.json().get("events") or [] if e.get("event") == "user"]


def _scrape(app: WebApp) -> str:
    return httpx.get(f"{app.url}/metrics", timeout=10).text


def test_nasty_chat_inputs_against_the_real_rasa(chat_app: WebApp, stack: Stack) -> None:
    before = _scrape(chat_app)
    problems: List[str] = []
    with httpx.Client(base_url=chat_app.url, timeout=60) as client:
        for name, template, content_type in REJECTED:
            token, sender = new_conversation()
            headers = {identity.HEADER: token, **({"Content-Type": content_type} if content_type else {})}
            response = client.post("/api/chat", content=template, headers=headers)
            if not 400 <= response.status_code < 500:
                problems.append(f"{name}: expected a 4xx, got {response.status_code} {response.text[:200]}")
                continue
            body = response.json()
            if not (body.get("error") and body["message"]["en"] and body["message"]["zh"]):
                problems.append(f"{name}: error body {body}")
            if _user_events(stack, sender):
                problems.append(f"{name}: rejected, yet Rasa's tracker has a user event")

        for name, message in ACCEPTED:
            token, sender = new_conversation()
            content = json.dumps({"message": message}).encode()  # ensure_ascii: surrogates escaped
            response = client.post("/api/chat", content=content, headers={"Content-Type": "application/json",
                                                                        identity.HEADER: token})
            if response.status_code != 200:
                problems.append(f"{name}: expected 200, got {response.status_code} {response.text[:200]}")
                continue
            if not isinstance(response.json().get("messages"), list):
                problems.append(f"{name}: body {response.text[:200]}")
            if message != "/restart" and not _user_events(stack, sender):
                problems.append(f"{name}: answered, yet Rasa's tracker has no user event")

        history = client.get("/api/chat/history", headers={identity.HEADER: "../../etc/passwd"})
        if history.status_code != 200 or history.json()["messages"] or history.json()["session"] == "../../etc/passwd":
            problems.append(f"history with a forged session: {history.status_code} {history.text[:200]}")

    assert problems == [], "\n".join(problems)
    assert chat_app.server_errors() == []
    after = _scrape(chat_app)

    def moved(outcome: str) -> float:
        name = "gzcp_chat_messages_total"
        return sample(after, name, channel="web", outcome=outcome) - sample(before, name, channel="web", outcome=outcome)

    assert moved("rejected") == len(REJECTED) and moved("answered") == len(ACCEPTED)
