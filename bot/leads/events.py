"""The intake announces each stored lead or hand-off; other domains listen (the staff console's live list
and alerts: bot.staff.app registers them). The intake never depends on who listens, and a listener that
fails never fails the intake."""

from __future__ import annotations

import logging
from typing import Any, Callable, List

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
