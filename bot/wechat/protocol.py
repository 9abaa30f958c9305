"""WeChat's callback protocol for an Official Account: signatures, the replay window, safe mode (AES), the XML.

wechatpy does the format work (SHA-1 signer, the AES framing of WeChatCrypto, message classes, text replies);
this module adds what it leaves out: signatures compared in constant time (wechatpy compares with `!=`), the
OS's randomness in encrypted replies (wechatpy uses `random`), XML refused when it has a DTD (no entities of
any kind: defusedxml looks before wechatpy's xmltodict parses), and CDATA that a reply's text cannot close.
Everything here is pure (no I/O), so the tests can hold it to WeChat's published sample vectors.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Dict, Optional
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from wechatpy.crypto import PrpCrypto
from wechatpy.messages import BaseMessage
from wechatpy.parser import parse_message
from wechatpy.replies import TextReply
from wechatpy.utils import WeChatSigner

REPLAY_WINDOW_SECONDS = 300  # a signed request older (or newer) than this is refused: a captured one goes stale
MAX_BODY_BYTES = 32 * 1024  # WeChat's messages are a few KiB, encrypted ones included
_HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # characters XML 1.0 cannot hold


class ProtocolError(Exception):
    """A request WeChat would not have sent: refused with `status`, changing nothing. The reason is fixed text."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def signature(*parts: str) -> str:
    """WeChat's signature: SHA-1 over the parts sorted and joined (token, timestamp, nonce[, Encrypt])."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def signature_matches(given: Optional[str], *parts: str) -> bool:
    """Constant-time comparison, so the time taken tells nothing about how much of a forgery was right."""
    if not given or not _HEX40.match(given):
        return False
    return hmac.compare_digest(signature(*parts).encode("ascii"), given.lower().encode("ascii"))


def check_request(token: str, params: Dict[str, str], now: Optional[float] = None) -> None:
    """The query WeChat signs every call with: `signature` over (token, timestamp, nonce), and a timestamp
    within the replay window. Checked before the body is read."""
    timestamp, nonce = params.get("timestamp", ""), params.get("nonce", "")
    if not timestamp.isdigit() or len(timestamp) > 12 or not nonce or len(nonce) > 64:
        raise ProtocolError(403, "missing or malformed timestamp or nonce")
    if not signature_matches(params.get("signature"), token, timestamp, nonce):
        raise ProtocolError(403, "signature mismatch")
    if abs((time.time() if now is None else now) - int(timestamp)) > REPLAY_WINDOW_SECONDS:
        raise ProtocolError(403, "stale timestamp")


def parse_xml(raw: bytes) -> Dict[str, str]:
    """The top-level fields of a WeChat XML document (`<xml><Field>…</Field>…</xml>`). A DTD — and with it every
    entity, external or not — is refused, as is anything that is not well-formed."""
    try:
        root = SafeET.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError, ValueError) as error:
        raise ProtocolError(400, "malformed XML" if not isinstance(error, DefusedXmlException) else "XML with a DTD") from None
    if root.tag != "xml":
        raise ProtocolError(400, "not a WeChat message")
    return {child.tag: (child.text or "") for child in root}


@dataclass(frozen=True)
class Inbound:
    """One message or event from a user, as the channel needs it."""

    account: str  # ToUserName: the Official Account's own id (gh_…)
    openid: str  # FromUserName: the user, known to this account only; never logged, never sent to Rasa
    created: int  # CreateTime
    kind: str  # text, voice, image, …, or event
    msg_id: str  # MsgId ("" for events)
    text: str = ""  # Content, or a voice message's Recognition
    event: str = ""  # subscribe, unsubscribe, … (lower case)
    event_key: str = ""

    @property
    def delivery_id(self) -> str:
        """What WeChat's retries of this delivery share: MsgId, or for events the user and the creation time
        (WeChat's own advice, events carry no MsgId)."""
        if self.msg_id:
            return f"msg:{self.account}:{self.msg_id}"
        return f"event:{self.account}:{self.openid}:{self.created}:{self.event}:{self.event_key}"


def inbound(raw: bytes) -> Inbound:
    """A plain-text WeChat message (after decryption in safe mode), checked, as an Inbound."""
    parse_xml(raw)  # refuses DTDs and entities before any other parser sees the bytes
    try:
        message: BaseMessage = parse_message(raw.decode("utf-8"))
        fields = message._data  # the parsed fields wechatpy keeps (None for an empty element)

        def field(name: str) -> str:
            value = fields.get(name)
            if value is not None and not isinstance(value, str):  # a repeated or nested element
                raise TypeError(name)
            return value or ""

        kind = field("MsgType").lower()
        item = Inbound(
            account=field("ToUserName"),
            openid=field("FromUserName"),
            created=int(field("CreateTime") or 0),
            kind=kind,
            msg_id=field("MsgId"),
            text=field("Recognition") if kind == "voice" else field("Content") if kind == "text" else "",
            event=field("Event").lower() if kind == "event" else "",  # subscribe_scan: by a QR code
            event_key=field("EventKey") if kind == "event" else "",
        )
    except (KeyError, TypeError, ValueError, AttributeError, UnicodeDecodeError):
        raise ProtocolError(400, "not a WeChat message") from None
    if not item.openid or not item.account or len(item.openid) > 128 or len(item.msg_id) > 64:
        raise ProtocolError(400, "not a WeChat message")
    return item


def xml_text(value: str) -> str:
    """Text safe inside CDATA: characters XML cannot hold dropped, and `]]>` (which would end the CDATA and let
    a user's words become markup) split across two sections."""
    return _XML_INVALID.sub("", value).replace("]]>", "]]]]><![CDATA[>")


def text_reply(message: Inbound, content: str, now: Optional[int] = None) -> str:
    """The passive reply XML: a text message from the account to the user."""
    reply = TextReply(source=xml_text(message.account), target=xml_text(message.openid), content=xml_text(content),
                      time=int(time.time()) if now is None else now)
    return reply.render()


class _Prp(PrpCrypto):
    def get_random_string(self) -> str:
        return secrets.token_hex(8)  # the 16 random bytes that lead each encrypted message: from the OS


class SafeMode:
    """Safe mode: messages arrive AES-encrypted (EncodingAESKey) with `msg_signature`, replies go back the same way."""

    def __init__(self, token: str, aes_key: str, app_id: str) -> None:
        key = base64.b64decode(aes_key + "=")
        if len(key) != 32:
            raise ValueError("WECHAT_AES_KEY must be 43 characters (32 bytes)")
        self.token, self.key, self.app_id = token, key, app_id

    def decrypt(self, raw: bytes, params: Dict[str, str]) -> bytes:
        """The plain XML inside an encrypted delivery, once `msg_signature` over its Encrypt matched."""
        encrypted = parse_xml(raw).get("Encrypt", "")
        if not encrypted or len(encrypted) > MAX_BODY_BYTES:
            raise ProtocolError(400, "no Encrypt field")
        if not signature_matches(params.get("msg_signature"), self.token, params.get("timestamp", ""),
                                 params.get("nonce", ""), encrypted):
            raise ProtocolError(403, "msg_signature mismatch")
        try:
            base64.b64decode(encrypted, validate=True)
            return _Prp(self.key).decrypt(encrypted, self.app_id).encode("utf-8")
        except Exception:  # padding, framing, another account's id: wechatpy raises all kinds of things
            raise ProtocolError(400, "cannot decrypt") from None

    def encrypt(self, xml: str, nonce: Optional[str] = None, timestamp: Optional[str] = None) -> str:
        """A reply in safe mode: the encrypted XML, signed with `MsgSignature`."""
        nonce = nonce or str(secrets.randbelow(10**10))
        timestamp = timestamp or str(int(time.time()))
        encrypted = _Prp(self.key).encrypt(xml, self.app_id).decode("ascii")
        signed = signature(self.token, timestamp, nonce, encrypted)
        return (f"<xml>\n<Encrypt><![CDATA[{encrypted}]]></Encrypt>\n<MsgSignature><![CDATA[{signed}]]></MsgSignature>\n"
                f"<TimeStamp>{timestamp}</TimeStamp>\n<Nonce><![CDATA[{nonce}]]></Nonce>\n</xml>")

