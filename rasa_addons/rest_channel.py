"""Rasa's REST channel (same URL, /webhooks/rest/webhook) with the turn guard around each message.

A turn whose tracker could not be read or saved, or whose custom action failed (see turn_guard), answers an
empty list and is not saved, whatever the actions said along the way: the user must not see replies from a
turn the assistant will not remember.

A message that carries a `turn_id` in its metadata (the gateway's) is handled once: the conversation
lock is taken here, and a turn already stored under that id is answered from the tracker (rasa_addons.
turns); otherwise Rasa's agent handles it under the same lock (the lock is re-entrant in one task).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, List, Optional

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint

from rasa_addons import speedups, turn_guard, turns
from rasa_addons.lock_store import LeasedRedisLockStore

speedups.apply()  # Rasa imports this channel at start-up, before the first message
turn_guard.guard_actions()  # a turn whose custom action failed is refused, not saved half done


def guarded(
    on_new_message: Callable[[UserMessage], Awaitable[Any]], agent_of: Callable[[], Any] = lambda: None
) -> Callable[[UserMessage], Awaitable[Any]]:
    async def handle(message: UserMessage) -> Any:
        errors: List[BaseException] = []
        token = turn_guard.turn_errors.set(errors)
        try:
            agent = agent_of()
            turn_id = turns.turn_id_of(message)
            lock_store = getattr(agent, "lock_store", None)
            if turn_id is None or not isinstance(lock_store, LeasedRedisLockStore):
                return await on_new_message(message)
            message.message_id = turn_id  # the user event carries it: a second send finds the first
            async with lock_store.lock(message.sender_id):
                if await turns.replay(agent.tracker_store, message, turn_id):
                    return None
                return await on_new_message(message)
        except (turn_guard.TrackerStoreUnavailable, turn_guard.ActionFailed):
            return None  # logged by the guard, without the message; Rasa's own handler would log its text
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

    def __init__(self) -> None:
        self.app: Any = None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = super().blueprint(guarded(on_new_message, lambda: getattr(getattr(self.app, "ctx", None), "agent", None)))

        @bp.listener("after_server_start")
        async def install_guard(app: Any, _loop: Any) -> None:
            self.app = app
            turn_guard.install(getattr(app.ctx, "agent", None))

        return bp
