"""One reply shape for the assistant's answers, its forms and every channel: a text and its buttons."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class Button:
    title: str
    payload: str  # what pressing it sends: "/intent", "/intent{...}" or plain text


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: Tuple[Button, ...] = ()
