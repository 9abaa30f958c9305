"""The intake announces each stored lead or hand-off, and each conversation it is about to erase; other domains
listen (the staff console's live list and alerts, and its notes and audit log: bot.staff.app registers them).
The intake never depends on who listens. A listener for stored leads that fails never fails the intake; a
listener for an erasure runs in the erasure's own transaction, and its failure fails the erasure (which the
delivery worker then retries), because an erasure that left copies behind must not report success."""

from __future__ import annotations

import logging
from typing import Any, Callable, List, Sequence

logger = logging.getLogger(__name__)

Listener = Callable[[Any], None]  # called with the stored Lead
_listeners: List[Listener] = []


def on_lead_stored(listener: Listener) -> Listener:
    """Register `listener` (once) for every lead or hand-off the intake stores."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def announce(lead: Any) -> None:
    for listener in list(_listeners):
        try:
            listener(lead)
        except Exception as error:  # noqa: BLE001  (a listener's failure must not fail the intake)
            logger.warning("a listener for stored leads failed: %s", type(error).__name__)


# (database session, conversation id, ids of the leads about to be deleted): remove what you hold about them.
Eraser = Callable[[Any, str, Sequence[str]], None]
_erasers: List[Eraser] = []


def on_conversation_erased(listener: Eraser) -> Eraser:
    """Register `listener` (once) to run inside every erasure, before the conversation's leads are deleted."""
    if listener not in _erasers:
        _erasers.append(listener)
    return listener


def erasing(session: Any, conversation_id: str, lead_ids: Sequence[str]) -> None:
    for listener in list(_erasers):
        listener(session, conversation_id, lead_ids)  # no catch: see the module's docstring
