"""HTTP load: conversations over a chat transport (asyncio + httpx), /model/parse, time to first answer,
and plain request loops (the intake). Latencies are measured on the client, per request."""

from __future__ import annotations

import asyncio
import itertools
import math
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import httpx

from scripts.bench.procs import HarnessError, Proc
from scripts.bench.stats import LoadSummary, summarize

Conversation = Sequence[str]


@dataclass(frozen=True)
class Transport:
    """How a message reaches a bot and how to tell that it answered.

    The REST webhook today; the web app's chat gateway (`/api/chat`) is another instance (see bots.py).
    """

    url: str
    body: Callable[[str, str], Dict[str, Any]]  # (sender, text) -> JSON body
    answered: Callable[[Any], bool]  # JSON reply -> did the bot say something?
    headers: Callable[[str], Dict[str, str]] = lambda sender: {}  # noqa: E731  (sender -> request headers)


def rest_webhook(base_url: str) -> Transport:
    return Transport(
        url=f"{base_url}/webhooks/rest/webhook",
        body=lambda sender, text: {"sender": sender, "message": text},
        answered=lambda reply: isinstance(reply, list) and len(reply) > 0,
    )


def chat_gateway(base_url: str) -> Transport:
    """The web app's chat gateway (bot/chat/routes.py): each simulated user holds a conversation token, minted
    with the app's CONVERSATION_SECRET (the bench runs in the same environment) as the server would issue it."""
    from bot.chat import identity

    tokens: Dict[str, str] = {}
    return Transport(
        url=f"{base_url}/api/chat",
        body=lambda sender, text: {"message": text},
        answered=lambda reply: isinstance(reply, dict) and len(reply.get("messages") or []) > 0,
        headers=lambda sender: {identity.HEADER: tokens.setdefault(sender, identity.issue_token())},
    )


def _client(concurrency: int, timeout: float = 60.0) -> httpx.AsyncClient:
    size = concurrency + 4
    return httpx.AsyncClient(limits=httpx.Limits(max_connections=size, max_keepalive_connections=size), timeout=timeout)


async def _say(client: httpx.AsyncClient, transport: Transport, sender: str, text: str) -> Tuple[float, str]:
    """One message: its latency and "ok", "empty" (answered with nothing to show) or "error"."""
    started = time.perf_counter()
    try:
        response = await client.post(transport.url, json=transport.body(sender, text), headers=transport.headers(sender))
        outcome = "error" if response.status_code != 200 else "ok" if transport.answered(response.json()) else "empty"
    except (httpx.HTTPError, ValueError):
        outcome = "error"
    return time.perf_counter() - started, outcome


async def conversations(
    transport: Transport,
    scripts: Sequence[Conversation],
    *,
    concurrency: int,
    messages: int,
    sender_prefix: str,
    label: str,
) -> LoadSummary:
    """`concurrency` users, each holding one conversation at a time (a new sender id per conversation) and
    sending its messages one after another, each after the previous reply; until about `messages` are sent."""
    length = len(scripts[0])
    count = max(concurrency, math.ceil(messages / length))
    queue = itertools.count()
    latencies: List[float] = []
    outcomes = {"ok": 0, "empty": 0, "error": 0}

    async def user(client: httpx.AsyncClient) -> None:
        while (number := next(queue)) < count:
            sender = f"{sender_prefix}-{label}-{number}"
            for text in scripts[number % len(scripts)]:
                elapsed, outcome = await _say(client, transport, sender, text)
                outcomes[outcome] += 1
                if outcome != "error":
                    latencies.append(elapsed)

    async with _client(concurrency) as client:
        started = time.perf_counter()
        await asyncio.gather(*(user(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return summarize(label, concurrency, latencies, outcomes["error"], elapsed, empty=outcomes["empty"])


async def long_conversations(
    transport: Transport, texts: Sequence[str], *, turns: int, senders: int, sender_prefix: str
) -> Dict[str, Any]:
    """`senders` users at once, each holding ONE conversation of `turns` messages (cycling through `texts`),
    each sent after the previous reply. Latency by turn number: does a turn cost more as its conversation
    grows? Returns the median latency per turn (over the senders), the first and last 20 turns' medians."""
    by_turn: List[List[float]] = [[] for _ in range(turns)]
    errors = 0

    async def user(client: httpx.AsyncClient, number: int) -> None:
        nonlocal errors
        sender = f"{sender_prefix}-long-{number}"
        for turn in range(turns):
            elapsed, outcome = await _say(client, transport, sender, texts[(turn + number) % len(texts)])
            if outcome == "error":
                errors += 1
            else:
                by_turn[turn].append(elapsed)

    async with _client(senders) as client:
        started = time.perf_counter()
        await asyncio.gather(*(user(client, n) for n in range(senders)))
        elapsed = time.perf_counter() - started
    medians = [round(statistics.median(v) * 1000, 1) if v else None for v in by_turn]
    head = [m for m in medians[:20] if m is not None]
    tail = [m for m in medians[-20:] if m is not None]
    first, last = (statistics.median(head) if head else None), (statistics.median(tail) if tail else None)
    return {
        "senders": senders,
        "turns": turns,
        "errors": errors,
        "seconds": round(elapsed, 1),
        "first20_p50_ms": first,
        "last20_p50_ms": last,
        "growth": round(last / first, 2) if first and last else None,
        "p50_ms_by_turn": medians,
    }


async def requests(
    url: str,
    make: Callable[[int], Tuple[Dict[str, Any], Dict[str, str]]],
    *,
    concurrency: int,
    total: int,
    label: str,
    ok_status: int = 201,
    keep_latencies: bool = False,
) -> Any:
    """POST `total` requests from `concurrency` clients; make(i) gives request i's JSON body and headers.
    Returns the summary and a count of each status code seen ("error" for a failed connection), and with
    `keep_latencies` the latencies (s) too (to merge the work of several client processes)."""
    queue = itertools.count()
    latencies: List[float] = []
    statuses: Dict[str, int] = {}

    async def client_loop(client: httpx.AsyncClient) -> None:
        while (number := next(queue)) < total:
            body, headers = make(number)
            started = time.perf_counter()
            try:
                status = str((await client.post(url, json=body, headers=headers)).status_code)
            except httpx.HTTPError:
                status = "error"
            elapsed = time.perf_counter() - started
            statuses[status] = statuses.get(status, 0) + 1
            if status == str(ok_status):
                latencies.append(elapsed)

    async with _client(concurrency) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    errors = total - len(latencies)
    summary = summarize(label, concurrency, latencies, errors, elapsed)
    return (summary, statuses, latencies) if keep_latencies else (summary, statuses)


def parse_calls(base_url: str, token: str, texts: Sequence[str], calls: int) -> LoadSummary:
    """`calls` sequential POST /model/parse, cycling through texts."""
    latencies: List[float] = []
    errors = 0
    with httpx.Client(timeout=30) as client:
        started = time.perf_counter()
        for number in range(calls):
            t0 = time.perf_counter()
            try:
                response = client.post(
                    f"{base_url}/model/parse", params={"token": token}, json={"text": texts[number % len(texts)]}
                )
                ok = response.status_code == 200 and "intent" in response.json()
            except (httpx.HTTPError, ValueError):
                ok = False
            if ok:
                latencies.append(time.perf_counter() - t0)
            else:
                errors += 1
        elapsed = time.perf_counter() - started
    return summarize("parse", 1, latencies, errors, elapsed)


@dataclass(frozen=True)
class Startup:
    """Seconds from spawning the bot's processes to: Rasa's first HTTP answer of any kind (its own start-up and
    model load), and the first non-empty reply to a message (everything the bot needs is up)."""

    http_up_s: float
    first_answer_s: float


def time_to_first_answer(
    transport: Transport, probe: str, rasa_urls: Sequence[str], procs: Sequence[Proc], spawned: float, timeout: float
) -> Startup:
    """Poll every Rasa server until each answers HTTP, then the transport with `probe` (a new sender each
    time) until it answers; the processes must stay alive meanwhile."""
    waiting = list(rasa_urls)
    http_up: Optional[float] = None
    deadline = spawned + timeout
    with httpx.Client(timeout=30) as client:
        for attempt in itertools.count():
            for proc in procs:
                proc.check_alive()
            for url in list(waiting):
                try:
                    client.get(f"{url}/", timeout=2)
                    waiting.remove(url)
                except httpx.HTTPError:
                    pass
            if not waiting:
                if http_up is None:
                    http_up = time.monotonic() - spawned
                try:
                    sender = f"bench-startup-{attempt:04d}"
                    response = client.post(transport.url, json=transport.body(sender, probe), headers=transport.headers(sender))
                    if response.status_code == 200 and transport.answered(response.json()):
                        return Startup(http_up_s=round(http_up, 2), first_answer_s=round(time.monotonic() - spawned, 2))
                except (httpx.HTTPError, ValueError):
                    pass
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
    names = ", ".join(proc.name for proc in procs)
    raise HarnessError(f"no answer to {probe!r} within {timeout:.0f}s of starting {names}; logs: {[str(p.log) for p in procs]}")
