"""Counting chat messages and the wait for Rasa, per channel, into the shared metrics hash.

Web gateway: the POST /api/chat route is wrapped in `observed("web", ...)`, which reads the outcome
from the response's status (2xx answered, 503 unavailable, other 5xx error, any other 4xx rejected), and
the route times its call to Rasa with `rasa_timer()`. The counts go to this process's PENDING updates: the
next message writes them in its one Redis round trip (bot.chat.store RateLimiter.gate), a scrape writes them
first, and when no message follows they are written FLUSH_SECONDS later on their own. So metrics never add
to the user's wait nor a round trip to a message.

Telegram bridge (another process): `async with observe_turn(redis, "telegram"):` around the call to Rasa
counts the message as answered, or unavailable when Rasa fails (RasaUnavailable), and times it.
"""

from __future__ import annotations

import asyncio
import functools
import time
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, List, Optional, Set

from starlette.requests import Request
from starlette.responses import Response

from bot.chat.rasa import RasaUnavailable
from bot.shared.metrics import CHAT_MESSAGES, CHAT_RASA_LATENCY, PENDING, Update, record_async

FLUSH_SECONDS = 1.0


@dataclass
class _Turn:
    rasa_seconds: Optional[float] = None


_current: ContextVar[Optional[_Turn]] = ContextVar("gzcp_chat_turn", default=None)


def outcome_of(status: int) -> str:
    if status < 400:
        return "answered"
    if status == 503:
        return "unavailable"
    if status >= 500:
        return "error"
    return "rejected"


def updates(channel: str, outcome: str, rasa_seconds: Optional[float]) -> List[Update]:
    out = CHAT_MESSAGES.increment(channel=channel, outcome=outcome)
    if rasa_seconds is not None:
        out += CHAT_RASA_LATENCY.observation(rasa_seconds, channel=channel)
    return out


@contextmanager
def rasa_timer() -> Iterator[None]:
    """Time the block as this message's wait for Rasa (inside a route wrapped by `observed`)."""
    turn = _current.get()
    started = time.perf_counter()
    try:
        yield
    finally:
        if turn is not None:
            turn.rasa_seconds = time.perf_counter() - started


class _Flusher:
    """Writes what is pending FLUSH_SECONDS after a message when no later message has taken it along."""

    def __init__(self) -> None:
        self._timer: Optional[asyncio.TimerHandle] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._tasks: Set[asyncio.Task] = set()

    def schedule(self, client: Any) -> None:
        loop = asyncio.get_running_loop()
        if self._timer is not None and self._loop is loop and not self._timer.cancelled():
            return
        self._loop = loop
        self._timer = loop.call_later(FLUSH_SECONDS, self._fire, loop, client)

    def _fire(self, loop: asyncio.AbstractEventLoop, client: Any) -> None:
        self._timer = None
        task = loop.create_task(PENDING.write_async(client))
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)


_FLUSHER = _Flusher()


async def flush(client: Any) -> None:
    """Write what is pending now (the gateway's shutdown)."""
    await PENDING.write_async(client)


def observed(channel: str, redis_of: Callable[[Request], Any]) -> Callable:
    """Decorate a route `async def route(request: Request, ...) -> Response` that handles one chat message."""

    def decorate(route: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
        @functools.wraps(route)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Response:
            turn = _Turn()
            token = _current.set(turn)
            outcome = "error"
            try:
                response = await route(request, *args, **kwargs)
                outcome = outcome_of(response.status_code)
                return response
            finally:
                _current.reset(token)
                PENDING.add(updates(channel, outcome, turn.rasa_seconds))
                _FLUSHER.schedule(redis_of(request))

        return wrapper

    return decorate


@asynccontextmanager
async def observe_turn(client: Any, channel: str) -> AsyncIterator[None]:
    """Count one message and time its wait for Rasa: answered, or unavailable when RasaUnavailable leaves."""
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "answered"
    except RasaUnavailable:
        outcome = "unavailable"
        raise
    except asyncio.CancelledError:
        outcome = ""  # shutting down: nothing to await, nothing to count
        raise
    finally:
        if outcome:
            await record_async(client, updates(channel, outcome, time.perf_counter() - started))
