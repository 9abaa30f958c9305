"""The callback protocol without I/O: signatures, the replay window, safe mode against published sample vectors,
safe XML, replies whose text cannot break out of CDATA."""

from __future__ import annotations

import time

import pytest

from bot.wechat import protocol
from bot.wechat.protocol import Inbound, ProtocolError, SafeMode, check_request, inbound, parse_xml, text_reply
from tests.fakes import wechat_api as wx

# The sample vectors wechatpy's own tests carry (WeChat's sample account: the same framing for Official Accounts).
VECTOR_TOKEN = "123456"
VECTOR_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
VECTOR_ID = "wx49f0ab532d5d035a"
VECTOR_ENCRYPT = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6yd"
    "JRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/Ty"
    "wZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t"
    "6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)
VECTOR_PARAMS = {"msg_signature": "74d92dfeb87ba7c714f89d98870ae5eb62dff26d", "timestamp": "1411525903",
                 "nonce": "461056294"}
VECTOR_REPLY = ("<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n"
                "<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n<ToUserName><![CDATA[messense]]></ToUserName>\n"
                "<AgentID>1</AgentID>\n<CreateTime>1411525903</CreateTime>\n</xml>")
VECTOR_REPLY_ENCRYPT = (
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ"
    "+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI"
    "1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8k"
    "v3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3"
)


def test_the_signature_is_sha1_over_the_sorted_parts_and_matches_the_sample() -> None:
    assert protocol.signature("123456", "1411443780", "437374425",
                              "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==") \
        == "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96"
    assert protocol.signature("b", "a", "c") == wx.sign("a", "b", "c")


def test_signatures_are_compared_in_constant_time(monkeypatch) -> None:
    calls = []
    real = protocol.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(protocol.hmac, "compare_digest", spy)
    good = wx.query("tok")
    check_request("tok", good)
    assert len(calls) == 1
    with pytest.raises(ProtocolError):
        check_request("tok", {**good, "signature": "0" * 40})
    assert len(calls) == 2


@pytest.mark.parametrize("change, reason", [
    ({"signature": "0" * 40}, "signature mismatch"),
    ({"signature": "not-hex"}, "signature mismatch"),
    ({"signature": ""}, "signature mismatch"),
    ({"nonce": "other"}, "signature mismatch"),  # the signature covered the original nonce
    ({"timestamp": "abc"}, "malformed"),
    ({"nonce": ""}, "malformed"),
])
def test_a_forged_or_altered_query_is_refused(change, reason) -> None:
    with pytest.raises(ProtocolError, match=reason) as refused:
        check_request("tok", {**wx.query("tok"), **change})
    assert refused.value.status == 403


@pytest.mark.parametrize("age", [-301, 301, 86400])
def test_a_timestamp_outside_the_replay_window_is_refused_even_when_signed(age: int) -> None:
    params = wx.query("tok", timestamp=int(time.time()) - age)
    with pytest.raises(ProtocolError, match="stale"):
        check_request("tok", params)
    check_request("tok", wx.query("tok", timestamp=int(time.time()) - 290))  # inside: fine


def test_safe_mode_decrypts_the_published_sample() -> None:
    body = f"<xml><ToUserName><![CDATA[{VECTOR_ID}]]></ToUserName><Encrypt><![CDATA[{VECTOR_ENCRYPT}]]></Encrypt></xml>"
    plain = SafeMode(VECTOR_TOKEN, VECTOR_KEY, VECTOR_ID).decrypt(body.encode(), VECTOR_PARAMS)
    fields = parse_xml(plain)
    assert fields["Content"] == "test" and fields["FromUserName"] == "messense"


def test_safe_mode_encrypts_the_published_sample_byte_for_byte(monkeypatch) -> None:
    monkeypatch.setattr(protocol._Prp, "get_random_string", lambda self: "1234567890123456")
    envelope = SafeMode(VECTOR_TOKEN, VECTOR_KEY, VECTOR_ID).encrypt(VECTOR_REPLY, "461056294", "1411525903")
    fields = parse_xml(envelope.encode())
    assert fields["Encrypt"] == VECTOR_REPLY_ENCRYPT
    assert fields["MsgSignature"] == "407518b7649e86ef23978113f92d27afa9296533"


def test_safe_mode_round_trip_with_an_independent_implementation() -> None:
    mode = SafeMode(VECTOR_TOKEN, VECTOR_KEY, VECTOR_ID)
    xml = wx.text_xml("o-user", "城市合伙人有哪些权益？", 1)
    params, body = wx.envelope(xml, VECTOR_TOKEN, VECTOR_KEY, VECTOR_ID)
    assert mode.decrypt(body.encode(), params).decode() == xml  # the fake's encryption, our decryption
    reply = mode.encrypt("<xml><Content><![CDATA[好的]]></Content></xml>")
    assert wx.reply_fields(reply, VECTOR_TOKEN, VECTOR_KEY, VECTOR_ID) == {"Content": "好的"}  # and back
    assert mode.encrypt("<xml/>") != mode.encrypt("<xml/>")  # a fresh random prefix each time


def test_safe_mode_refuses_a_bad_msg_signature_another_account_and_garbage() -> None:
    mode = SafeMode(VECTOR_TOKEN, VECTOR_KEY, VECTOR_ID)
    params, body = wx.envelope(wx.text_xml("o", "hi", 1), VECTOR_TOKEN, VECTOR_KEY, VECTOR_ID)
    with pytest.raises(ProtocolError, match="msg_signature") as refused:
        mode.decrypt(body.encode(), {**params, "msg_signature": "1" * 40})
    assert refused.value.status == 403
    other_params, other_body = wx.envelope(wx.text_xml("o", "hi", 1), VECTOR_TOKEN, VECTOR_KEY, "wxSomeoneElse")
    with pytest.raises(ProtocolError, match="cannot decrypt"):  # right key and signature, another AppID inside
        mode.decrypt(other_body.encode(), other_params)
    junk = "QUJD"  # valid base64, not a whole block
    signed = {**params, "msg_signature": wx.sign(VECTOR_TOKEN, params["timestamp"], params["nonce"], junk)}
    with pytest.raises(ProtocolError, match="cannot decrypt"):
        mode.decrypt(f"<xml><Encrypt>{junk}</Encrypt></xml>".encode(), signed)


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&c;</Content><MsgId>1</MsgId></xml>"""


@pytest.mark.parametrize("payload", [XXE, LAUGHS, b"<!DOCTYPE xml><xml><MsgType>text</MsgType></xml>"])
def test_xml_with_a_dtd_or_entities_is_refused_before_any_parser_expands_it(payload: bytes) -> None:
    with pytest.raises(ProtocolError) as refused:
        inbound(payload)
    assert refused.value.status == 400 and "root:" not in str(refused.value)


@pytest.mark.parametrize("payload", [b"", b"not xml", b"<xml><Content>unclosed</xml>", b"<other/>",
                                     b"<xml><MsgType>text</MsgType></xml>",  # no sender
                                     "<xml>\u00e9</xml>".encode("latin-1")])
def test_malformed_or_incomplete_messages_are_refused(payload: bytes) -> None:
    with pytest.raises(ProtocolError) as refused:
        inbound(payload)
    assert refused.value.status == 400


def test_a_text_a_voice_and_an_event_are_read() -> None:
    text = inbound(wx.text_xml("o-1", "你好", 42).encode())
    assert (text.kind, text.text, text.msg_id, text.openid, text.account) == ("text", "你好", "42", "o-1", "gh_test_account")
    voice = inbound(wx.voice_xml("o-1", "城市合伙人是什么", 43).encode())
    assert (voice.kind, voice.text) == ("voice", "城市合伙人是什么")
    event = inbound(wx.event_xml("o-1", "subscribe", created=1700000000).encode())
    assert (event.kind, event.event, event.msg_id) == ("event", "subscribe", "")
    assert event.delivery_id != inbound(wx.event_xml("o-1", "subscribe", created=1700000001).encode()).delivery_id


def test_a_reply_cannot_close_its_cdata_or_carry_invalid_characters() -> None:
    message = Inbound(account="gh_a", openid="o-1", created=1, kind="text", msg_id="1")
    xml = text_reply(message, "Organization: Evil]]><MsgType>news</MsgType>\x00\x07 ok", now=5)
    fields = parse_xml(xml.encode())
    assert fields["Content"] == "Organization: Evil]]><MsgType>news</MsgType> ok"
    assert fields["MsgType"] == "text" and fields["ToUserName"] == "o-1" and fields["FromUserName"] == "gh_a"
