"""The channels users reach the assistant through, registered once.

A channel's Rasa sender ids start with its prefix (`web-<session>`, `telegram-<chat id>`); from that prefix
the actions record the lead's channel, the gateway and the bridge build sender ids, and the metrics take
their `channel` label values. Adding a channel is one line here (and its adapter in the web app).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class Channel:
    name: str  # stored with each lead, shown to staff, and the metrics label: [a-z0-9_]
    sender_prefix: str  # Rasa sender ids of this channel start with it

    def sender(self, local_id: str) -> str:
        """The Rasa sender id for a conversation this channel knows as `local_id`."""
        return f"{self.sender_prefix}{local_id}"


WEB = Channel("web", "web-")
TELEGRAM = Channel("telegram", "telegram-")
WECHAT = Channel("wechat", "wechat-")  # a WeChat Official Account (bot/wechat): `wechat-<derived id of the OpenID>`
CHANNELS: Tuple[Channel, ...] = (WEB, TELEGRAM, WECHAT)
# A sender no channel claims reached Rasa's REST webhook directly (a script, a test, an integration).
DIRECT = "rest"
NAMES: Tuple[str, ...] = tuple(c.name for c in CHANNELS)


def channel_of(sender_id: str) -> str:
    """The name of the channel a Rasa sender id belongs to (DIRECT when none claims it)."""
    for channel in CHANNELS:
        if sender_id.startswith(channel.sender_prefix):
            return channel.name
    return DIRECT
