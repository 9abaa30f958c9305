"""Rasa's REST channel (same URL, /webhooks/rest/webhook) with the turn guard around each message.

A turn whose tracker could not be read or saved (see turn_guard) answers an empty list, whatever the
actions said along the way: the user must not see replies from a turn the assistant will not remember.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, List, Optional

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint

from rasa_addons import speedups, turn_guard

speedups.apply()  # Rasa imports this channel at start-up, before the first message


def guarded(on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Callable[[UserMessage], Awaitable[Any]]:
    async def handle(message: UserMessage) -> Any:
        errors: List[BaseException] = []
        token = turn_guard.turn_errors.set(errors)
        try:
            return await on_new_message(message)
        finally:
            turn_guard.turn_errors.reset(token)
            if errors and isinstance(message.output_channel, CollectingOutputChannel):
                message.output_channel.messages.clear()

    return handle


class GuardedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> GuardedRestInput:
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = super().blueprint(guarded(on_new_message))

        @bp.listener("after_server_start")
        async def install_guard(app: Any, _loop: Any) -> None:
            turn_guard.install(getattr(app.ctx, "agent", None))

        return bp
