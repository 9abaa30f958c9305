"""Counting chat messages and the wait for Rasa, per channel, into the shared metrics hash.

Web gateway: the POST /api/chat route is wrapped in `observed("web", ...)`, which reads the outcome
from the response's status (2xx answered, 503 unavailable, other 5xx error, any other 4xx rejected), and
the route times its call to Rasa with `rasa_timer()`. The counts are written after the response is sent
(a background task), so metrics never add to the user's wait.

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
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, List, Optional

from starlette.background import BackgroundTask, BackgroundTasks
from starlette.requests import Request
from starlette.responses import Response

from bot.chat.rasa import RasaUnavailable
from bot.shared.metrics import CHAT_MESSAGES, CHAT_RASA_LATENCY, Update, record_async


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


def observed(channel: str, redis_of: Callable[[Request], Any]) -> Callable:
    """Decorate a route `async def route(request: Request, ...) -> Response` that handles one chat message."""

    def decorate(route: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
        @functools.wraps(route)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Response:
            turn = _Turn()
            token = _current.set(turn)
            try:
                response = await route(request, *args, **kwargs)
            except Exception:
                await record_async(redis_of(request), updates(channel, "error", turn.rasa_seconds))
                raise
            finally:
                _current.reset(token)
            task = BackgroundTask(
                record_async, redis_of(request), updates(channel, outcome_of(response.status_code), turn.rasa_seconds)
            )
            if response.background is None:
                response.background = task
            else:  # keep whatever the route had queued
                tasks = BackgroundTasks()
                tasks.add_task(response.background)
                tasks.add_task(task)
                response.background = tasks
            return response

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
