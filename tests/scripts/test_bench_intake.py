"""The intake bench (scripts/bench/intake.py, intake.lua): against a recording server, wrk sends every request as
a new lead and its summary is read back right (`make test` installs wrk: scripts/ensure_wrk.sh); a lead's own
work is timed part by part on a real database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Dict, List

import pytest

from scripts.bench.intake import API_KEY, PART_GROUP, _wrk_load, lead_parts, load_generator
from scripts.bench.report import intake_parts
from tests.fakes.server import ServerThread, request_body


class Recorder:
    """POST /api/leads: 201 for a new Idempotency-Key with the right key, 422 for every 7th request."""

    def __init__(self) -> None:
        self.seen: List[Dict[str, Any]] = []

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        body = await request_body(receive)
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


def test_a_leads_own_work_is_timed_part_by_part_on_a_real_database(tmp_path: Path) -> None:
    parts = lead_parts(tmp_path, calls=20)
    names = ("validate_ms", "prepare_ms", "answer_ms", "insert_ms")
    assert set(parts) == {*names, "total_ms"}
    assert all(parts[name] > 0 for name in ("validate_ms", "prepare_ms", "insert_ms"))
    assert parts["total_ms"] == pytest.approx(sum(parts[name] for name in names), abs=0.002)
    with sqlite3.connect(tmp_path / "parts.db") as db:  # the inserts were real: 3 rounds of 2 groups
        assert db.execute("SELECT COUNT(*) FROM leads").fetchone()[0] == 3 * 2 * PART_GROUP
    text = intake_parts({"parts": parts, "bare": {"server_cpu_ms_per_request": 0.19}})
    assert f"**{parts['total_ms']:.3f} ms**" in text and "0.19 ms of server CPU" in text
