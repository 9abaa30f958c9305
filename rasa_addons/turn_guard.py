"""No silent fallback: a turn whose tracker cannot be read or saved is refused, not half-handled.

Rasa's FailSafeTrackerStore answers a failed `retrieve` with None (the message is then handled as if
the conversation were new, and saving that would overwrite it once Redis is back) and a failed `save`
with a copy in memory that nothing reads again. Its error hook is ours: `install` sets it, and the hook
records the error for the turn in progress (a context variable set by the guarded REST channel), logs
it, and raises, so Rasa neither handles the message on an empty tracker nor keeps it in memory. The
channel then answers with no messages, which the gateway treats as a failed turn (retry, then a polite
reply). Counts and the last error are kept for the health channel.

A custom action that fails (the action server down, erroring or too slow) is the same kind of fault: Rasa
logs it and goes on without the action's events, so the user got a half turn — the screening's
introduction without its first question — and the tracker kept it, so a retry replayed the half turn.
`guard_actions` records such a failure for the turn in progress and refuses to save that turn's tracker:
nothing of it is remembered, the channel answers with no messages, and the gateway sends the message again.
A form's refusal of a slot value (ActionExecutionRejection) is dialogue, not a fault, and stays Rasa's.
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


class ActionFailed(Exception):
    """A custom action failed during the turn; the turn is refused instead of being saved half done."""


@dataclass
class GuardStats:
    refused_turns: int = 0  # on tracker store errors
    refused_on_actions: int = 0  # on custom actions that failed
    last_error: Optional[str] = None
    last_error_at: Optional[float] = None


stats = GuardStats()


def _record(error: BaseException) -> None:
    """Note the error on the turn in progress (nothing outside a guarded turn)."""
    errors = turn_errors.get()
    if errors is not None:
        errors.append(error)


def on_tracker_store_error(error: Exception) -> None:
    _record(error)
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


def guard_actions() -> None:
    """Patch Rasa's RemoteAction.run (record a failure) and MessageProcessor.save_tracker (refuse a turn with
    one); idempotent. Outside a guarded turn (Rasa's HTTP API, `rasa test`) nothing changes."""
    from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
    from rasa.core.processor import MessageProcessor

    if getattr(RemoteAction.run, "_gzcp_guarded", False):
        return
    run_action, save_tracker = RemoteAction.run, MessageProcessor.save_tracker

    async def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await run_action(self, *args, **kwargs)
        except ActionExecutionRejection:
            raise
        except Exception as error:  # Rasa catches it and goes on; the turn must not
            _record(error)
            raise

    async def save(self: Any, tracker: Any) -> None:
        errors = turn_errors.get()
        if errors:
            stats.refused_on_actions += 1
            logger.error("a custom action failed (%s): the turn is not saved; the gateway sends it again",
                         type(errors[0]).__name__)
            raise ActionFailed(type(errors[0]).__name__)
        await save_tracker(self, tracker)

    run._gzcp_guarded = True  # type: ignore[attr-defined]
    RemoteAction.run = run  # type: ignore[method-assign]
    MessageProcessor.save_tracker = save  # type: ignore[method-assign]
