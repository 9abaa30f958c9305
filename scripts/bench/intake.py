"""POST /api/leads: our intake (uvicorn bot.main:app on a temporary SQLite database) against a bare FastAPI
endpoint (bare_app.py), one after the other, with the same uvicorn settings and the same client load."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Tuple

from scripts.bench.bots import Context, ours_env
from scripts.bench.load import requests
from scripts.bench.procs import HarnessError, Processes, tree_cpu_seconds, wait_http

API_KEY = "bench-intake-key"
UVICORN_FLAGS = ["--host", "127.0.0.1"]  # as scripts/run_all.sh serves the app; the same for both servers
Progress = Callable[[str], None]


def lead_body(number: int) -> Dict[str, Any]:
    """A valid lead (as tests/bot/leads/conftest.py `lead_body`: a qualified strategic partner)."""
    return {
        "kind": "lead",
        "conversation_id": f"bench-{number}",
        "channel": "web",
        "language": "en",
        "profile": {
            "name": "Acme Motors",
            "org_type": "enterprise",
            "credentials": ["fortune_global_500"],
            "industry": "Automobiles and electric vehicles",
            "country": "Germany",
            "guangzhou_presence": "present",
        },
        "contact": {"person": "Li Hua", "email": "li.hua@example.com", "phone": "138 0013 8000"},
        "consent": {
            "given": True,
            "notice_version": "2025-01",
            "given_at": (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat(),
        },
        "transcript": [
            {"sender": "user", "text": "I run a software company", "timestamp": 1735786800.0},
            {"sender": "bot", "text": "Which partner category interests you?", "timestamp": 1735786801.5},
        ],
    }


def _request(number: int) -> Tuple[Dict[str, Any], Dict[str, str]]:
    return lead_body(number), {"X-API-Key": API_KEY, "Idempotency-Key": f"bench-{uuid.uuid4().hex}"}


def measure_intake(ctx: Context, say: Progress, *, concurrency: int, total: int, warmup: int = 50) -> Dict[str, Any]:
    database = ctx.work / "intake.db"
    env = {**ours_env(ctx), "DATABASE_URL": f"sqlite:///{database}", "INTAKE_API_KEY": API_KEY}
    migrate = subprocess.run(
        [str(ctx.app_python), "-m", "bot.db", "upgrade"], cwd=ctx.root, env=env, capture_output=True, text=True
    )
    if migrate.returncode != 0:
        raise HarnessError(f"python -m bot.db upgrade failed:\n{migrate.stdout}{migrate.stderr}")
    servers = {
        "intake": (ctx.ports.intake, "bot.main:app"),
        "bare": (ctx.ports.bare, "scripts.bench.bare_app:app"),
    }
    results: Dict[str, Any] = {"concurrency": concurrency, "requests": total, "uvicorn_flags": " ".join(UVICORN_FLAGS)}
    for key, (port, app) in servers.items():
        with Processes() as procs:
            server = procs.start(
                f"uvicorn {key}",
                [str(ctx.app_python), "-m", "uvicorn", app, *UVICORN_FLAGS, "--port", str(port)],
                ctx.root,
                env,
                ctx.logs / f"uvicorn-{key}.log",
            )
            wait_http(server, f"http://127.0.0.1:{port}/healthz", 60)
            url = f"http://127.0.0.1:{port}/api/leads"
            asyncio.run(requests(url, _request, concurrency=concurrency, total=warmup, label=f"{key} warm-up"))
            say(f"{key}: {total} x POST /api/leads from {concurrency} concurrent clients")
            cpu, client_cpu = tree_cpu_seconds([server.pid]), time.process_time()
            summary, statuses = asyncio.run(requests(url, _request, concurrency=concurrency, total=total, label=key))
            cpu_ms = round((tree_cpu_seconds([server.pid]) - cpu) * 1000 / total, 2)
            client_ms = round((time.process_time() - client_cpu) * 1000 / total, 2)
            say(
                f"  {summary.rate_per_s:.0f} req/s, p50 {summary.p50_ms} ms, p95 {summary.p95_ms} ms, statuses {statuses}, "
                f"CPU per request: server {cpu_ms} ms, client {client_ms} ms"
            )
            results[key] = {
                **summary.to_dict(),
                "statuses": statuses,
                "server_cpu_ms_per_request": cpu_ms,
                "client_cpu_ms_per_request": client_ms,
            }
    return results
