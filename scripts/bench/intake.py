"""POST /api/leads: our intake (uvicorn bot.main:app, on a temporary SQLite database and on PostgreSQL) against
a bare FastAPI endpoint (bare_app.py), one after the other, with the same uvicorn settings and the same load.

The load comes from wrk (Debian's package; `make bench` installs it when it can): one thread in C spends about a
twentieth of the CPU a Python client does per request, so the bare endpoint's rate is the server's, not the
client's (with Python clients, 1.3 ms of client CPU per request against the bare server's 0.3 ms decided it).
Each request is a new lead: its own conversation and Idempotency-Key (intake.lua). Without wrk the bench falls
back to CLIENT_PROCESSES Python processes (asyncio + httpx) and says so in the report."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import subprocess
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from sqlalchemy.orm import sessionmaker

from scripts.bench.bots import Context, ours_env
from scripts.bench.load import requests
from scripts.bench.procs import HarnessError, Processes, tree_cpu_seconds, wait_http
from scripts.bench.stats import LoadSummary, summarize

API_KEY = "bench-intake-key"
CLIENT_PROCESSES = 3
WRK_SCRIPT = Path(__file__).with_name("intake.lua")
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/gzcp_bench")
UVICORN_FLAGS = ["--host", "127.0.0.1"]  # as scripts/run_all.sh serves the app; the same for both servers
Progress = Callable[[str], None]


def lead_body(number: object) -> Dict[str, Any]:
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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wrk_load(wrk: str, url: str, concurrency: int, seconds: float, label: str,
              work: Path) -> Tuple[Dict[str, Any], Dict[str, int], float]:
    """wrk for `seconds` with `concurrency` connections: summary, statuses, client CPU seconds."""
    template = work / "lead-template.json"
    template.write_text(json.dumps(lead_body("@REF@")), encoding="utf-8")
    prefix = f"bench-{uuid.uuid4().hex[:12]}"
    cpu = _children_cpu()
    done = subprocess.run(
        [wrk, "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(WRK_SCRIPT), url, "--",
         str(template), API_KEY, prefix],
        capture_output=True, text=True, timeout=seconds + 60,
    )
    client_cpu = _children_cpu() - cpu
    try:
        out = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise HarnessError(f"wrk gave no summary (exit {done.returncode}):\n{done.stdout}{done.stderr}") from None
    statuses = {str(code): int(n) for code, n in out["statuses"].items()}
    created = statuses.get("201", 0)
    elapsed = out["duration_us"] / 1e6
    errors = sum(out["errors"].values()) + sum(n for code, n in statuses.items() if code != "201")

    def ms(us: float) -> float:
        return round(us / 1000, 2)

    summary = LoadSummary(label=label, concurrency=concurrency, requests=created, errors=errors,
                          elapsed_s=round(elapsed, 3), p50_ms=ms(out["p50_us"]), p95_ms=ms(out["p95_us"]),
                          mean_ms=ms(out["mean_us"]), max_ms=ms(out["max_us"]),
                          rate_per_s=round(created / elapsed, 2) if elapsed > 0 else 0.0)
    return summary.to_dict(), statuses, client_cpu


PART_GROUP = 10  # leads per insert in the parts timed alone (the group commit's groups under load are of this order)


def _per_call_ms(call: Callable[[], Any], calls: int) -> float:
    """CPU milliseconds per call (this thread), the best of three rounds: a quiet lower bound."""
    best = float("inf")
    for _ in range(3):
        started = time.thread_time()
        for _ in range(calls):
            call()
        best = min(best, (time.thread_time() - started) / calls)
    return round(best * 1000, 3)


def lead_parts(work: Path, calls: int = 300) -> Dict[str, float]:
    """A lead's own work timed alone in this process, without HTTP: what our intake does beyond a bare endpoint
    (which parses the same JSON and answers it). CPU ms per lead; the insert includes its share of the commit."""
    from bot.db import make_engine, upgrade
    from bot.leads import service
    from bot.leads.answer import answer
    from bot.leads.schemas import IntakeRequest

    body = json.dumps(lead_body("parts")).encode("utf-8")
    request = IntakeRequest.model_validate(json.loads(body))
    stored = service.Stored(service.prepare(request, "parts"), False)
    group_calls = max(1, calls // PART_GROUP)
    # Prepared beforehand (each with its own key), so the insert's time is the insert's alone: 3 rounds.
    groups = iter([[service.prepare(request, f"parts-{round_}-{call}-{n}") for n in range(PART_GROUP)]
                   for round_ in range(3) for call in range(group_calls)])
    url = f"sqlite:///{work / 'parts.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = sessionmaker(engine, expire_on_commit=False)

    def insert_group() -> None:
        with sessions() as session:
            service.store_all(session, next(groups))

    try:
        parts = {
            "validate_ms": _per_call_ms(lambda: IntakeRequest.model_validate(json.loads(body)), calls),
            "prepare_ms": _per_call_ms(lambda: service.prepare(request, "parts"), calls),  # assessment, fingerprint, row
            "answer_ms": _per_call_ms(lambda: answer(stored), calls),
            "insert_ms": round(_per_call_ms(insert_group, group_calls) / PART_GROUP, 3),
        }
    finally:
        engine.dispose()
    parts["total_ms"] = round(sum(parts.values()), 3)
    return parts


def load_generator() -> Optional[str]:
    """wrk's path, or None (then the Python clients)."""
    return shutil.which("wrk")


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


def measure_intake(ctx: Context, say: Progress, *, concurrency: int, total: int, seconds: float = 10.0,
                   warmup: int = 50) -> Dict[str, Any]:
    """Each server measured alone: with wrk for `seconds`, else `total` requests from the Python clients."""
    databases = {"intake": f"sqlite:///{ctx.work / 'intake.db'}"}
    ready, why = _postgres_ready()
    if ready:
        databases["intake_postgres"] = POSTGRES_URL
    wrk = load_generator()
    generator = (f"wrk (1 thread, {concurrency} connections, {seconds:g} s a server)" if wrk else
                 f"{CLIENT_PROCESSES} Python processes (asyncio + httpx; wrk not found: the bare endpoint's rate may be "
                 "the clients' limit)")
    results: Dict[str, Any] = {"concurrency": concurrency, "requests": None if wrk else total,
                               "uvicorn_flags": " ".join(UVICORN_FLAGS), "load_generator": generator,
                               "client_processes": 1 if wrk else CLIENT_PROCESSES}
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
            say(f"{key}: POST /api/leads from {generator}")
            cpu = tree_cpu_seconds([server.pid])
            if wrk:
                summary, statuses, client_cpu = _wrk_load(wrk, url, concurrency, seconds, key, ctx.work)
            else:
                summary, statuses, client_cpu = _load(url, concurrency, total, key)
            answered = max(1, sum(statuses.values()))
            cpu_ms = round((tree_cpu_seconds([server.pid]) - cpu) * 1000 / answered, 2)
            client_ms = round(client_cpu * 1000 / answered, 2)
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
    results["parts"] = lead_parts(ctx.work)
    results["parts_group"] = PART_GROUP
    say(f"  a lead's own work timed alone: {results['parts']}")
    return results
