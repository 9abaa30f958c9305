"""POST /api/leads: our intake (uvicorn bot.main:app, on a temporary SQLite database and on PostgreSQL) against
a bare FastAPI endpoint (bare_app.py), one after the other, with the same uvicorn settings and the same client
load: CLIENT_PROCESSES processes, each an asyncio + httpx loop, so the load generator is not the limit (one
Python client process tops out near the rate of a bare endpoint)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Tuple

from scripts.bench.bots import Context, ours_env
from scripts.bench.load import requests
from scripts.bench.procs import HarnessError, Processes, tree_cpu_seconds, wait_http
from scripts.bench.stats import summarize

API_KEY = "bench-intake-key"
CLIENT_PROCESSES = 3
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/gzcp_bench")
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


def _client_process(url: str, concurrency: int, total: int, label: str) -> Tuple[List[float], Dict[str, int], float]:
    """One load-generating process: its latencies (s) of created leads, statuses, and CPU seconds it used."""
    started = time.process_time()
    summary, statuses, latencies = asyncio.run(requests(url, _request, concurrency=concurrency, total=total, label=label,
                                                        keep_latencies=True))
    return latencies, statuses, time.process_time() - started


def _load(url: str, concurrency: int, total: int, label: str) -> Tuple[Dict[str, Any], Dict[str, int], float]:
    """`total` requests from CLIENT_PROCESSES processes sharing `concurrency` clients; summary, statuses, client CPU s."""
    shares = [total // CLIENT_PROCESSES + (1 if i < total % CLIENT_PROCESSES else 0) for i in range(CLIENT_PROCESSES)]
    per = max(1, concurrency // CLIENT_PROCESSES)
    with ProcessPoolExecutor(CLIENT_PROCESSES) as pool:
        started = time.perf_counter()
        parts = list(pool.map(_client_process, [url] * CLIENT_PROCESSES, [per] * CLIENT_PROCESSES, shares,
                              [label] * CLIENT_PROCESSES))
        elapsed = time.perf_counter() - started
    latencies = [value for part in parts for value in part[0]]
    statuses: Dict[str, int] = {}
    for part in parts:
        for status, count in part[1].items():
            statuses[status] = statuses.get(status, 0) + count
    summary = summarize(label, per * CLIENT_PROCESSES, latencies, total - len(latencies), elapsed).to_dict()
    return summary, statuses, sum(part[2] for part in parts)


def _postgres_ready() -> Tuple[bool, str]:
    """Create the bench's own PostgreSQL database when it is missing (never the tests' `test` database)."""
    try:
        import psycopg
        from sqlalchemy.engine import make_url

        target = make_url(POSTGRES_URL)
        admin = target.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{target.database}"')
        return True, ""
    except Exception as error:  # noqa: BLE001  (the bench reports "not measured" with the reason)
        return False, f"{type(error).__name__}"


def measure_intake(ctx: Context, say: Progress, *, concurrency: int, total: int, warmup: int = 50) -> Dict[str, Any]:
    databases = {"intake": f"sqlite:///{ctx.work / 'intake.db'}"}
    ready, why = _postgres_ready()
    if ready:
        databases["intake_postgres"] = POSTGRES_URL
    results: Dict[str, Any] = {"concurrency": concurrency, "requests": total, "uvicorn_flags": " ".join(UVICORN_FLAGS),
                               "client_processes": CLIENT_PROCESSES}
    if not ready:
        results["intake_postgres"] = {"not_measured": f"PostgreSQL at {POSTGRES_URL.split('@')[-1]}: {why}"}
    servers = {key: (ctx.ports.intake, "bot.main:app", url) for key, url in databases.items()}
    servers["bare"] = (ctx.ports.bare, "scripts.bench.bare_app:app", databases["intake"])
    for key, (port, app, database_url) in servers.items():
        env = {**ours_env(ctx), "DATABASE_URL": database_url, "INTAKE_API_KEY": API_KEY}
        migrate = subprocess.run([str(ctx.app_python), "-m", "bot.db", "upgrade"], cwd=ctx.root, env=env,
                                 capture_output=True, text=True)
        if migrate.returncode != 0:
            raise HarnessError(f"python -m bot.db upgrade failed:\n{migrate.stdout}{migrate.stderr}")
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
            say(f"{key}: {total} x POST /api/leads from {concurrency} clients in {CLIENT_PROCESSES} processes")
            cpu = tree_cpu_seconds([server.pid])
            summary, statuses, client_cpu = _load(url, concurrency, total, key)
            cpu_ms = round((tree_cpu_seconds([server.pid]) - cpu) * 1000 / total, 2)
            client_ms = round(client_cpu * 1000 / total, 2)
            say(
                f"  {summary['rate_per_s']:.0f} req/s, p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, "
                f"statuses {statuses}, CPU per request: server {cpu_ms} ms, client {client_ms} ms"
            )
            results[key] = {
                **summary,
                "statuses": statuses,
                "server_cpu_ms_per_request": cpu_ms,
                "client_cpu_ms_per_request": client_ms,
            }
    return results
