"""The chat endpoint's request and response bodies."""

from __future__ import annotations

import unicodedata
from typing import List, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field


def clean_text(text: str) -> str:
    """Drop control and format characters (except line breaks and tabs) a paste or a bot may carry."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")).strip()


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an old client's session_id is refused, not silently dropped

    message: str = Field(description="typed text or a button's payload")
    lang: Optional[Literal["en", "zh"]] = Field(None, description="the widget's language, for messages without words")


class ButtonOut(BaseModel):
    title: str
    payload: str


class MessageOut(BaseModel):
    text: str
    buttons: List[ButtonOut] = []


SESSION_DOC = "the conversation token: send it back in the X-Chat-Session header (never in a URL)"


class ChatOut(BaseModel):
    messages: List[MessageOut]
    language: Literal["en", "zh"]
    session: str = Field(description=SESSION_DOC)


class HistoryMessage(MessageOut):
    sender: Literal["user", "bot"]


class HistoryOut(BaseModel):
    session: str = Field(description=SESSION_DOC)
    language: Literal["en", "zh"]
    messages: List[HistoryMessage]
    welcome: MessageOut


class ErrorText(BaseModel):
    en: str
    zh: str


class ErrorOut(BaseModel):
    error: str
    message: ErrorText
