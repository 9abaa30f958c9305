"""The console's channel filter offers every channel of the registry (bot.shared.channels), WeChat included,
before any lead came through it, and filters by it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from bot.shared.channels import NAMES
from tests.bot.staff.conftest import login


def channel_options(html: str) -> list:
    select = re.search(r'<select id="channel" name="channel">(.*?)</select>', html, re.S)
    assert select, "no channel filter on the page"
    return re.findall(r'<option value="([^"]*)"', select.group(1))


def test_the_channel_filter_lists_registered_channels_and_filters_wechat(client: TestClient, make_user, make_lead) -> None:
    login(client, make_user("viewer").email)
    assert set(NAMES) >= {"web", "telegram", "wechat"}
    assert set(NAMES) <= set(channel_options(client.get("/staff").text))  # no lead yet from any of them
    make_lead(conversation_id="wechat-0a1b2c", channel="wechat", contact={"person": "王芳", "email": "wang@wx.example"})
    make_lead(conversation_id="web-3d4e5f", channel="web", contact={"person": "Li Hua", "email": "li@web.example"})
    make_lead(conversation_id="direct-1", channel="rest", contact={"person": "Bot", "email": "bot@rest.example"})
    page = client.get("/staff", params={"channel": "wechat"}).text
    assert "王芳" in page and "Li Hua" not in page
    assert channel_options(page) == ["", "rest", "telegram", "web", "wechat"]  # stored values too ("rest")
