"""/api/wechat in the web app: verification, plain and safe mode, refusals that change nothing, message kinds,
numbered buttons, long answers, WeChat's retries, the 5-second rule, Rasa down, and what reaches the logs."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Dict, List

import pytest
from fastapi.testclient import TestClient

from bot.main import create_app
from bot.metrics.exporter import sample
from bot.shared.erasure import forget_conversation
from bot.shared.redis_conn import conversation_keys
from bot.wechat.channel import sender_of
from bot.wechat.protocol import MAX_BODY_BYTES
from tests import redis_env
from tests.bot.wechat.conftest import REDIS_DB, TOKEN, clean_redis, post, post_safe, reply
from tests.fakes import wechat_api as wx
from tests.fakes.rasa import MORE, FakeRasa

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
CHOICES = [{"title": "企业", "payload": '/inform{"choice":"enterprise"}'},
           {"title": "个人", "payload": '/inform{"choice":"individual"}'}]
BANDS = [{"title": "20人以下", "payload": '/inform{"choice":"up_to_19"}'},
         {"title": "20–299人", "payload": '/inform{"choice":"20_to_299"}'}]


def scripted(sender: str, message: str) -> List[Dict[str, Any]]:
    """A Rasa that greets, asks with buttons, asks a question answered by a number, and echoes the rest."""
    if message == "/greet":
        return [{"text": "您好！我是广州“城市合伙人”计划的智能助手。", "buttons": CHOICES}]
    if message == "我们想加入":
        return [{"text": "贵机构属于哪一类？", "buttons": CHOICES}]
    if message == "员工":
        return [{"text": "贵机构大约有多少员工？直接输入数字即可。", "buttons": BANDS}]
    if message == "长":
        return [{"text": "\n\n".join(f"广州城市合伙人计划的第{i}段介绍。" + "内容" * 300 for i in range(4))}]
    return [{"text": f"echo: {message}"}]


@pytest.fixture
def rasa_script(wechat_env: FakeRasa) -> FakeRasa:
    wechat_env.replier = scripted
    return wechat_env


def messages(rasa: FakeRasa) -> List[str]:
    return [r["message"] for r in rasa.received]


# --- verification and refusals ----------------------------------------------------------------------------
def test_get_verification_echoes_only_a_correctly_signed_fresh_request(client: TestClient) -> None:
    good = client.get("/api/wechat", params=wx.query(TOKEN, echostr="5838479218127813673"))
    assert good.status_code == 200 and good.text == "5838479218127813673"
    forged = client.get("/api/wechat", params={**wx.query("wrong-token"), "echostr": "123"})
    assert forged.status_code == 403 and "123" not in forged.text
    stale = client.get("/api/wechat", params=wx.query(TOKEN, timestamp=int(time.time()) - 3600, echostr="123"))
    assert stale.status_code == 403
    odd = client.get("/api/wechat", params=wx.query(TOKEN, echostr="<script>"))
    assert odd.status_code == 400


def test_the_channel_is_off_without_a_token(monkeypatch, wechat_env) -> None:
    monkeypatch.setenv("WECHAT_TOKEN", "")
    with TestClient(create_app()) as client:
        for response in (client.get("/api/wechat", params=wx.query("")), post(client, wx.text_xml(OPENID, "hi", 1))):
            assert response.status_code == 404 and "WECHAT_TOKEN" in response.text
    assert wechat_env.received == []


@pytest.mark.parametrize("case", ["forged", "stale", "future", "malformed", "xxe", "too_large", "bad_msg_signature",
                                  "unknown_encrypt_type", "no_sender"])
def test_refused_deliveries_change_nothing(client: TestClient, rasa_script: FakeRasa, wechat, case: str) -> None:
    xml = wx.text_xml(OPENID, "我们想加入", 9001)
    if case == "forged":
        response = post(client, xml, params=wx.query("not-the-token"))
    elif case == "stale":
        response = post(client, xml, params=wx.query(TOKEN, timestamp=int(time.time()) - 301))
    elif case == "future":
        response = post(client, xml, params=wx.query(TOKEN, timestamp=int(time.time()) + 600))
    elif case == "malformed":
        response = post(client, xml[:-6])
    elif case == "xxe":
        response = post(client, '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                                + xml.replace("我们想加入", "&x;"))
    elif case == "too_large":
        response = post(client, xml.replace("我们想加入", "字" * MAX_BODY_BYTES))
    elif case == "bad_msg_signature":
        params, body = wx.envelope(xml, TOKEN, wx.base64.b64encode(b"k" * 32).decode()[:43], "wx49f0ab532d5d035a")
        response = client.post("/api/wechat", params={**params, "msg_signature": "0" * 40}, content=body)
    elif case == "unknown_encrypt_type":
        response = post(client, xml, params=wx.query(TOKEN, encrypt_type="rot13"))
    else:
        response = post(client, xml.replace(OPENID, ""))
    expected = {"forged": 403, "stale": 403, "future": 403, "bad_msg_signature": 403, "too_large": 413}.get(case, 400)
    assert response.status_code == expected, response.text
    assert "root:" not in response.text  # nothing of /etc/passwd, ever
    assert rasa_script.received == [] and wechat.messages == []
    assert list(redis_env.client(REDIS_DB).scan_iter(match="gzcp:wechat:*")) == []  # not even a delivery claim


def test_the_signature_is_checked_before_the_body_is_read(client: TestClient, rasa_script: FakeRasa) -> None:
    huge = b"x" * (MAX_BODY_BYTES * 4)
    assert post(client, huge.decode(), params=wx.query("not-the-token")).status_code == 403  # not 413: never read
    response = client.post("/api/wechat", params=wx.query(TOKEN), content=huge)
    assert response.status_code == 413


# --- conversations ---------------------------------------------------------------------------------------
def test_a_text_gets_a_passive_reply_under_a_derived_sender(client: TestClient, rasa_script: FakeRasa) -> None:
    answer = reply(post(client, wx.text_xml(OPENID, "城市合伙人是什么？", 1001)))
    assert answer == "echo: 城市合伙人是什么？"
    [sent] = rasa_script.received
    assert sent["sender"] == sender_of(OPENID) and sent["sender"].startswith("wechat-")
    assert OPENID not in json.dumps(rasa_script.received) and OPENID not in sent["sender"]
    assert sent["metadata"]["channel"] == "wechat" and sent["metadata"]["language"] == "zh"


def test_safe_mode_decrypts_the_message_and_encrypts_the_reply(client: TestClient, rasa_script: FakeRasa) -> None:
    response = post_safe(client, wx.text_xml(OPENID, "你好", 1002))
    assert "<Encrypt>" in response.text and "echo" not in response.text
    assert reply(response) == "echo: 你好"
    assert messages(rasa_script) == ["你好"]


def test_buttons_become_a_numbered_list_answered_by_number(client: TestClient, rasa_script: FakeRasa) -> None:
    question = reply(post(client, wx.text_xml(OPENID, "我们想加入", 1101)))
    assert question == "贵机构属于哪一类？\n1. 企业\n2. 个人\n回复序号即可选择（如 1）。"
    assert reply(post(client, wx.text_xml(OPENID, "２", 1102))).startswith("echo: /inform")  # full-width too
    assert messages(rasa_script)[-1] == '/inform{"choice":"individual"}'
    # That answer showed no list: a number now is just a number.
    post(client, wx.text_xml(OPENID, "2", 1103))
    assert messages(rasa_script)[-1] == "2"
    post(client, wx.text_xml(OPENID, "我们想加入", 1104))
    post(client, wx.text_xml(OPENID, "3", 1105))  # not on the list: sent as typed
    assert messages(rasa_script)[-1] == "3"


def test_a_list_of_numbers_is_lettered_so_a_typed_number_stays_a_number(client: TestClient, rasa_script: FakeRasa) -> None:
    question = reply(post(client, wx.text_xml(OPENID, "员工", 1201)))
    assert "A. 20人以下\nB. 20–299人\n回复字母即可选择（如 A）。" in question
    post(client, wx.text_xml(OPENID, "2", 1202))
    assert messages(rasa_script)[-1] == "2"  # two employees, not the second band
    post(client, wx.text_xml(OPENID, "员工", 1203))
    post(client, wx.text_xml(OPENID, "b", 1204))
    assert messages(rasa_script)[-1] == '/inform{"choice":"20_to_299"}'


def test_the_list_is_kept_per_conversation_and_erased_with_it(client: TestClient, rasa_script: FakeRasa) -> None:
    post(client, wx.text_xml(OPENID, "我们想加入", 1301))
    key = conversation_keys(sender_of(OPENID)).choices
    r = redis_env.client(REDIS_DB)
    assert json.loads(r.get(key))["payloads"][0] == '/inform{"choice":"enterprise"}'
    post(client, wx.text_xml("another-user", "1", 1302))  # someone else's "1" is theirs
    assert messages(rasa_script)[-1] == "1"
    forget_conversation(r, sender_of(OPENID))
    assert not r.exists(key)


def test_subscribe_greets_in_chinese_with_an_english_hint(client: TestClient, rasa_script: FakeRasa) -> None:
    greeting = reply(post(client, wx.event_xml(OPENID, "subscribe")))
    assert greeting.startswith("您好！") and greeting.endswith("English? Just write to me in English.")
    assert "1. 企业" in greeting
    assert messages(rasa_script) == ["/greet"]
    assert rasa_script.slots == [{"sender": sender_of(OPENID), "name": "language", "value": "zh"}]
    assert reply(post(client, wx.event_xml(OPENID, "unsubscribe"))) == ""
    assert messages(rasa_script) == ["/greet"]


def test_voice_uses_the_recognised_text_and_other_kinds_get_a_polite_note(client: TestClient, rasa_script: FakeRasa) -> None:
    assert reply(post(client, wx.voice_xml(OPENID, "城市合伙人是什么", 1401))) == "echo: 城市合伙人是什么"
    assert "识别" in reply(post(client, wx.voice_xml(OPENID, "", 1402)))
    assert "文字" in reply(post(client, wx.image_xml(OPENID, 1403)))
    assert messages(rasa_script) == ["城市合伙人是什么"]


def test_a_long_answer_is_split_within_the_limit_and_sent_in_order(client: TestClient, rasa_script: FakeRasa,
                                                                     wechat: wx.FakeWeChatAPI) -> None:
    assert reply(post(client, wx.text_xml(OPENID, "长", 1501))) == ""  # several messages: all through the API
    sent = wechat.wait_for(lambda: len(wechat.sent(OPENID)) >= 4 and wechat.sent(OPENID))
    assert all(len(piece.encode("utf-8")) <= 2048 for piece in sent) and not wechat.refused
    assert [piece.split("。")[0] for piece in sent] == [f"广州城市合伙人计划的第{i}段介绍" for i in range(4)]


def test_a_retried_msgid_is_handled_once_and_gets_the_same_reply(client: TestClient, rasa_script: FakeRasa) -> None:
    xml = wx.text_xml(OPENID, "我们想加入", 1601)
    first = reply(post(client, xml))
    again = reply(post(client, xml))  # WeChat's retry: newly signed, same MsgId
    assert first == again and first.startswith("贵机构属于哪一类？")
    assert messages(rasa_script) == ["我们想加入"]
    assert reply(post_safe(client, xml)) == first  # the same delivery in safe mode is the same delivery
    assert messages(rasa_script) == ["我们想加入"]


def test_a_retry_while_the_first_delivery_still_runs_gets_an_empty_reply(client: TestClient, rasa_script: FakeRasa) -> None:
    rasa_script.delay = 0.8
    xml = wx.text_xml(OPENID, "你好", 1701)
    results: Dict[str, str] = {}
    first = threading.Thread(target=lambda: results.setdefault("first", reply(post(client, xml))))
    first.start()
    time.sleep(0.3)
    results["second"] = reply(post(client, xml))
    first.join()
    assert results == {"first": "echo: 你好", "second": ""}
    assert messages(rasa_script) == ["你好"]


def test_a_repeated_subscribe_event_greets_once(client: TestClient, rasa_script: FakeRasa) -> None:
    event = wx.event_xml(OPENID, "subscribe", created=1_700_000_000)
    post(client, event)
    post(client, event)
    assert messages(rasa_script) == ["/greet"]


def test_rasa_down_gets_a_polite_note_in_both_languages(client: TestClient, rasa_script: FakeRasa) -> None:
    rasa_script.down = True
    note = reply(post(client, wx.text_xml(OPENID, "你好", 1801)))
    assert note.startswith("抱歉，智能助手暂时无法使用") and "not available" in note


# --- the 5-second rule -----------------------------------------------------------------------------------
@pytest.fixture
def quick_client(monkeypatch, wechat_env) -> TestClient:
    monkeypatch.setenv("WECHAT_REPLY_SECONDS", "0.5")
    with TestClient(create_app()) as test_client:
        yield test_client
    clean_redis()


def test_a_slow_answer_falls_back_to_the_customer_service_api_in_order(quick_client: TestClient, wechat_env: FakeRasa,
                                                                       wechat: wx.FakeWeChatAPI) -> None:
    wechat_env.replier = scripted
    wechat_env.delay = 1.2  # Rasa slower than WECHAT_REPLY_SECONDS
    started = time.monotonic()
    assert reply(post(quick_client, wx.text_xml(OPENID, "第一个问题", 1901))) == ""  # empty at the deadline
    assert time.monotonic() - started < 1.0
    assert reply(post(quick_client, wx.text_xml(OPENID, "第二个问题", 1902))) == ""
    sent = wechat.wait_for(lambda: len(wechat.sent(OPENID)) >= 2 and wechat.sent(OPENID), timeout=10)
    assert sent == ["echo: 第一个问题", "echo: 第二个问题"]  # the late answers, in the order asked
    assert [r["message"] for r in wechat_env.received] == ["第一个问题", "第二个问题"]
    assert len(wechat.token_requests) == 1  # one access token, cached, for both


def test_a_fast_answer_never_touches_the_api(client: TestClient, rasa_script: FakeRasa, wechat: wx.FakeWeChatAPI) -> None:
    assert reply(post(client, wx.text_xml(OPENID, "你好", 2001))) == "echo: 你好"
    time.sleep(0.3)
    assert wechat.messages == [] and wechat.token_requests == []


# --- what is logged ----------------------------------------------------------------------------------------
def test_logs_hold_neither_the_openid_nor_what_was_written(quick_client: TestClient, wechat_env: FakeRasa,
                                                           wechat: wx.FakeWeChatAPI, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    wechat_env.delay = 0.8
    post(quick_client, wx.text_xml(OPENID, "我的邮箱是 li@example.cn", 2101))
    wechat.wait_for(lambda: wechat.sent(OPENID), timeout=10)
    post(quick_client, wx.text_xml(OPENID, "x", 2102), params=wx.query("forged"))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "customer-service" in logged and "signature mismatch" in logged  # it did log, just not that
    assert OPENID not in logged and "li@example.cn" not in logged and "我的邮箱" not in logged
    assert MORE not in logged


def test_wechat_messages_are_counted_under_their_channel(client: TestClient, rasa_script: FakeRasa) -> None:
    def count(outcome: str) -> float:
        return sample(client.get("/metrics").text, "gzcp_chat_messages_total", channel="wechat", outcome=outcome)

    before = count("answered"), count("unavailable")
    post(client, wx.text_xml(OPENID, "你好", 2201))
    rasa_script.down = True
    post(client, wx.text_xml(OPENID, "在吗", 2202))
    time.sleep(0.2)
    assert (count("answered") - before[0], count("unavailable") - before[1]) == (1, 1)
