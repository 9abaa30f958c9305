"""The chat endpoint's request and response bodies."""

from __future__ import annotations

import re
import unicodedata
from typing import List, Literal, Optional

from pydantic import BaseModel, Field, field_validator

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def clean_text(text: str) -> str:
    """Drop control and format characters (except line breaks and tabs) a paste or a bot may carry."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")).strip()


class ChatIn(BaseModel):
    session_id: str = Field(description="the widget's id for this browser, 8–64 of A-Z a-z 0-9 _ -")
    message: str = Field(description="typed text or a button's payload")
    lang: Optional[Literal["en", "zh"]] = Field(None, description="the widget's language, for messages without words")

    @field_validator("session_id")
    @classmethod
    def _session(cls, value: str) -> str:
        if not SESSION_ID.match(value):
            raise ValueError("session_id must be 8-64 characters of A-Z, a-z, 0-9, _ or -")
        return value


class ButtonOut(BaseModel):
    title: str
    payload: str


class MessageOut(BaseModel):
    text: str
    buttons: List[ButtonOut] = []


class ChatOut(BaseModel):
    messages: List[MessageOut]
    language: Literal["en", "zh"]


class HistoryMessage(MessageOut):
    sender: Literal["user", "bot"]


class HistoryOut(BaseModel):
    session_id: str
    language: Literal["en", "zh"]
    messages: List[HistoryMessage]
    welcome: MessageOut


class ErrorText(BaseModel):
    en: str
    zh: str


class ErrorOut(BaseModel):
    error: str
    message: ErrorText
