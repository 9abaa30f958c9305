"""No silent fallback: a turn whose tracker cannot be read or saved is refused, not half-handled.

Rasa's FailSafeTrackerStore answers a failed `retrieve` with None (the message is then handled as if
the conversation were new, and saving that would overwrite it once Redis is back) and a failed `save`
with a copy in memory that nothing reads again. Its error hook is ours: `install` sets it, and the hook
records the error for the turn in progress (a context variable set by the guarded REST channel), logs
it, and raises, so Rasa neither handles the message on an empty tracker nor keeps it in memory. The
channel then answers with no messages, which the gateway treats as a failed turn (retry, then a polite
reply). Counts and the last error are kept for the health channel.
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, List, Optional

logger = logging.getLogger(__name__)

# The errors of the turn being handled in this task (None outside a guarded turn).
turn_errors: ContextVar[Optional[List[BaseException]]] = ContextVar("turn_errors", default=None)


class TrackerStoreUnavailable(Exception):
    """The tracker store failed; the turn is refused instead of falling back to memory."""


@dataclass
class GuardStats:
    refused_turns: int = 0
    last_error: Optional[str] = None
    last_error_at: Optional[float] = None


stats = GuardStats()


def on_tracker_store_error(error: Exception) -> None:
    errors = turn_errors.get()
    if errors is not None:
        errors.append(error)
    stats.refused_turns += 1
    stats.last_error, stats.last_error_at = type(error).__name__, time.time()
    logger.error("tracker store failed (%s): refusing the turn rather than using an in-memory tracker", type(error).__name__)
    raise TrackerStoreUnavailable(type(error).__name__) from error


def install(agent: Any) -> bool:
    """Hook the agent's FailSafeTrackerStore (again after a model reload made a new one). True when set."""
    store = getattr(agent, "tracker_store", None)
    if store is None or not hasattr(store, "_on_tracker_store_error"):
        return False
    if store._on_tracker_store_error is not on_tracker_store_error:
        store._on_tracker_store_error = on_tracker_store_error
        logger.info("tracker store guard installed: no silent in-memory fallback")
    return True
