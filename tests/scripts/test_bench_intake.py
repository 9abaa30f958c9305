"""The intake bench's load generator (scripts/bench/intake.py, intake.lua) against a recording server: wrk sends
every request as a new lead, and its summary is read back right (`make test` installs wrk: scripts/ensure_wrk.sh)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

from scripts.bench.intake import API_KEY, _wrk_load, load_generator
from tests.fakes.server import ServerThread


class Recorder:
    """POST /api/leads: 201 for a new Idempotency-Key with the right key, 422 for every 7th request."""

    def __init__(self) -> None:
        self.seen: List[Dict[str, Any]] = []

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        self.seen.append({"key": headers.get(b"idempotency-key", b"").decode(), "auth": headers.get(b"x-api-key"),
                          "lead": json.loads(body)})
        status = 422 if len(self.seen) % 7 == 0 else 201
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})


def test_wrk_sends_new_leads_and_its_summary_counts_only_the_created_ones(tmp_path: Path) -> None:
    wrk = load_generator()
    assert wrk, "wrk is not installed: run `bash scripts/ensure_wrk.sh --required` (make test does)"
    recorder = Recorder()
    with ServerThread(recorder) as server:
        summary, statuses, client_cpu = _wrk_load(wrk, f"{server.url}/api/leads", 4, 1.0, "test", tmp_path)
    seen = recorder.seen
    assert len(seen) > 20
    keys = [s["key"] for s in seen]
    conversations = [s["lead"]["conversation_id"] for s in seen]
    assert len(set(keys)) == len(keys) and len(set(conversations)) == len(conversations)
    assert all(s["auth"] == API_KEY.encode() and s["lead"]["kind"] == "lead" for s in seen)
    assert "@REF@" not in json.dumps([s["lead"] for s in seen])
    # wrk may stop with requests in flight: it counts what it got answers to, never more than the server saw.
    assert statuses.get("201", 0) + statuses.get("422", 0) <= len(seen)
    assert statuses["422"] >= 1 and summary["requests"] == statuses["201"]
    assert summary["errors"] >= statuses["422"]
    assert summary["rate_per_s"] > 0 and summary["p50_ms"] > 0 and summary["p95_ms"] >= summary["p50_ms"]
    assert client_cpu > 0
