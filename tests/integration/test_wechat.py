"""/api/wechat in the real web app (uvicorn, with its delivery worker and intake) against the real Rasa and
action server (the `stack` fixture) and a fake WeChat API on loopback: WeChat's side of the protocol is
played by this test, signing (and in safe mode encrypting) each message as WeChat does. Rasa is reached
through a proxy that can hold its answers back, for a turn slower than WeChat's 5 seconds."""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path
from typing import Iterator, List, Optional

import httpx
import pytest

from bot.shared.program.payloads import payload_label
from bot.wechat.channel import sender_of
from tests.fakes import wechat_api as wx
from tests.fakes.server import ServerThread
from tests.fakes.slow_proxy import SlowProxy
from tests.integration.conftest import INTAKE_PORT, Stack
from tests.integration.test_screening_e2e import Intake, question_in, wait_until

TOKEN = "wxIntegrationToken2024"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx2c2769f8efd9abc2"
APP_SECRET = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
APP_URL = f"http://127.0.0.1:{INTAKE_PORT}/api/wechat"
QUIET_SECONDS = 1.5  # no further customer-service message for this long: the turn's answer is complete


class Harness:
    def __init__(self, stack: Stack, intake: Intake, api: wx.FakeWeChatAPI, proxy: SlowProxy) -> None:
        self.stack, self.intake, self.api, self.proxy = stack, intake, api, proxy
        self.http = httpx.Client(timeout=30)
        self.openids: List[str] = []  # every user of the run, for the log check


class WeChatUser:
    """One follower of the account, as WeChat delivers their messages (plain or safe mode)."""

    def __init__(self, harness: Harness, safe: bool = True) -> None:
        self.h = harness
        self.openid = "o" + secrets.token_urlsafe(20)
        harness.openids.append(self.openid)
        self.safe = safe
        self.msg_ids = iter(range(secrets.randbelow(10**12) * 1000, 10**18))
        self.last_xml = ""

    @property
    def sender(self) -> str:
        return sender_of(self.openid)

    def deliver(self, xml: str) -> httpx.Response:
        self.last_xml = xml
        if self.safe:
            params, body = wx.envelope(xml, TOKEN, AES_KEY, APP_ID)
        else:
            params, body = wx.query(TOKEN), xml
        return self.h.http.post(APP_URL, params=params, content=body.encode("utf-8"), headers={"Content-Type": "text/xml"})

    def passive(self, response: httpx.Response) -> str:
        assert response.status_code == 200, response.text
        return wx.reply_fields(response.text, TOKEN, AES_KEY, APP_ID).get("Content", "")

    def turn(self, xml: str) -> List[str]:
        """What the user sees for one message: the passive reply, or the customer-service messages that follow
        an empty one."""
        before = len(self.h.api.sent(self.openid))
        passive = self.passive(self.deliver(xml))
        if passive:
            return [passive]
        self.h.api.wait_for(lambda: len(self.h.api.sent(self.openid)) > before, timeout=60)
        count = -1
        while count != len(self.h.api.sent(self.openid)):
            count = len(self.h.api.sent(self.openid))
            time.sleep(QUIET_SECONDS)
        return self.h.api.sent(self.openid)[before:]

    def say(self, text: str) -> List[str]:
        return self.turn(wx.text_xml(self.openid, text, next(self.msg_ids)))

    def user_events(self) -> List[str]:
        url = f"{self.h.stack.rasa_url}/conversations/{self.sender}/tracker"
        tracker = httpx.get(url, params={"token": self.h.stack.token}, timeout=10).json()
        return [e.get("text") for e in tracker["events"] if e.get("event") == "user"]


def number_of(texts: List[str], title: str) -> str:
    """The label the reply's list gives the button titled `title` (what the user types to press it)."""
    for text in reversed(texts):
        match = re.search(rf"^([0-9]+|[A-Z])\. {re.escape(title)}$", text, re.M)
        if match:
            return match.group(1)
    raise AssertionError(f"no button {title!r} in:\n" + "\n".join(texts))


@pytest.fixture(scope="module")
def harness(stack: Stack, tmp_path_factory) -> Iterator[Harness]:
    api = wx.FakeWeChatAPI(APP_ID, APP_SECRET)
    proxy = SlowProxy(stack.rasa_url)
    with ServerThread(api.app) as api_server, ServerThread(proxy.app) as proxy_server:
        intake = Intake(tmp_path_factory.mktemp("wechat"), int(stack.redis.connection_pool.connection_kwargs["db"]))
        intake.env.update({
            "RASA_URLS": proxy_server.url, "RASA_AUTH_TOKEN": stack.token, "CHAT_RASA_TIMEOUT_SECONDS": "30",
            "WECHAT_TOKEN": TOKEN, "WECHAT_AES_KEY": AES_KEY, "WECHAT_APP_ID": APP_ID, "WECHAT_APP_SECRET": APP_SECRET,
            "WECHAT_API_BASE_URL": api_server.url, "WECHAT_REPLY_SECONDS": "4",
        })
        intake.start()
        intake.start_worker()
        try:
            yield Harness(stack, intake, api, proxy)
        finally:
            intake.close()


def test_subscribe_a_chinese_question_and_a_button_answered_by_number(harness: Harness) -> None:
    user = WeChatUser(harness, safe=False)  # plain mode
    greeting = "\n".join(user.turn(wx.event_xml(user.openid, "subscribe")))
    assert "城市合伙人" in greeting and "English? Just write to me in English." in greeting
    answer = user.say("合伙人有哪些权益？")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in answer[0]) and re.search(r"^1\. ", "\n".join(answer), re.M)
    label = re.search(r"^1\. (.+)$", "\n".join(answer), re.M).group(1)  # type: ignore[union-attr]
    after = user.say("1")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in after[0])  # still Chinese
    events = user.user_events()
    assert events[:2] == ["/greet", "合伙人有哪些权益？"]
    assert events[2].startswith("/") and payload_label(events[2], "zh") == label  # "1" became that button's payload
    assert user.openid not in user.sender


def test_a_full_screening_by_numbers_and_words_stores_a_wechat_lead(harness: Harness) -> None:
    user = WeChatUser(harness)  # safe mode
    persona = {"org_type": "企业", "org_name": "广州微信智造科技有限公司", "country": "中国", "credentials": "以上都不是",
               "employees": "二十人左右", "industry": "工业机器人", "guangzhou_presence": "已在广州",
               "contribution": "希望在广州建立研发中心", "contact_person": "张伟", "email": "zhang.wei.wx@example.cn",
               "phone": "跳过", "consent": "是", "confirmed": "提交"}
    buttons = {"org_type", "credentials", "guangzhou_presence", "consent", "confirmed"}  # answered by number
    seen = user.say("我们想成为城市合伙人")
    for _ in range(30):
        question: Optional[str] = question_in([{"text": t} for t in seen])
        if question is None:
            break
        answer = persona[question]
        seen = user.say(number_of(seen, answer) if question in buttons else answer)
    else:
        raise AssertionError("the screening never ended")
    transcript = "\n".join(seen)
    assert "城市梦想家" in transcript or "谢谢" in transcript, transcript
    wait_until(lambda: len(harness.intake.leads(user.sender)) == 1, 60, "the lead")
    [lead] = harness.intake.leads(user.sender)
    assert lead["channel"] == "wechat" and lead["language"] == "zh" and lead["category"] == "city_dreamer"
    assert lead["email"] == "zhang.wei.wx@example.cn" and lead["phone"] is None
    assert '/inform{"choice":"enterprise"}' in user.user_events()  # "1" reached Rasa as the button's payload


def test_a_duplicate_msgid_is_handled_once_and_forgeries_change_nothing(harness: Harness) -> None:
    user = WeChatUser(harness)
    xml = wx.text_xml(user.openid, "城市合伙人计划是什么？", next(user.msg_ids))
    first = user.turn(xml)
    retried = user.passive(user.deliver(xml))  # WeChat's retry: the same MsgId, newly signed and encrypted
    assert retried in ("", first[0])
    forged = harness.http.post(APP_URL, params=wx.query("not-the-token"),
                               content=wx.text_xml(user.openid, "伪造的消息", 1).encode())
    stale = harness.http.post(APP_URL, params=wx.query(TOKEN, timestamp=int(time.time()) - 3600),
                              content=wx.text_xml(user.openid, "过期的消息", 2).encode())
    broken = harness.http.post(APP_URL, params=wx.query(TOKEN), content=b"<xml><Content>")
    assert (forged.status_code, stale.status_code, broken.status_code) == (403, 403, 400)
    assert user.user_events() == ["城市合伙人计划是什么？"]


def test_a_slow_turn_falls_back_to_the_customer_service_api(harness: Harness) -> None:
    user = WeChatUser(harness)
    harness.proxy.delay = 5.0  # the real assistant, answering after WeChat's 5 seconds
    try:
        started = time.monotonic()
        response = user.deliver(wx.text_xml(user.openid, "超级合伙人有什么权益？", next(user.msg_ids)))
        waited = time.monotonic() - started
        assert user.passive(response) == "" and waited < 4.8  # answered empty within the rule
        sent = harness.api.wait_for(lambda: harness.api.sent(user.openid), timeout=60)
    finally:
        harness.proxy.delay = 0.0
    assert harness.proxy.slowed >= 1
    assert any("超级合伙人" in text for text in sent), sent
    assert user.user_events() == ["超级合伙人有什么权益？"]


def test_the_app_log_holds_no_openid_and_no_message_text(harness: Harness) -> None:
    log = (Path(harness.intake.logs) / "app.log").read_text(errors="replace")
    assert "customer-service API" in log  # the app did log the slow turn: without naming anyone
    assert len(harness.openids) >= 4
    for text in (*harness.openids, "zhang.wei.wx@example.cn", "广州微信智造科技有限公司", "超级合伙人有什么权益", "伪造的消息"):
        assert text not in log
