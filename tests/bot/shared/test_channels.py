"""The channel registry: one place says which sender ids belong to which channel."""

from __future__ import annotations

from bot.shared import channels
from bot.shared.channels import CHANNELS, DIRECT, TELEGRAM, WEB, WECHAT, channel_of


def test_each_channel_builds_and_recognises_its_sender_ids() -> None:
    for channel in CHANNELS:
        assert channel_of(channel.sender("abc-123")) == channel.name
    assert WEB.sender("s1") == "web-s1" and TELEGRAM.sender("42") == "telegram-42"
    assert WECHAT.sender("d1") == "wechat-d1" and channel_of("wechat-d1") == "wechat" and "wechat" in channels.NAMES


def test_a_sender_no_channel_claims_came_through_rasa_directly() -> None:
    assert channel_of("it-store-1234") == DIRECT == "rest"


def test_names_and_prefixes_are_unique_and_safe_as_metric_labels() -> None:
    assert len({c.name for c in CHANNELS}) == len(CHANNELS) == len({c.sender_prefix for c in CHANNELS})
    assert all(c.name.isidentifier() and c.name.islower() for c in CHANNELS)
    assert channels.NAMES == tuple(c.name for c in CHANNELS)
