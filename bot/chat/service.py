"""A conversation with the assistant, whatever the channel: language handling, restart, history.

The actions answer in the language of the message when it has words, else in the `language` slot.
Button payloads and commands have no words, so a channel passes the language its user chose and we set
the slot first — only when it differs from what we last told Rasa (kept in Redis), to save a round trip.
Sender ids are `web-<session id>` and `telegram-<chat id>`: the actions derive the lead's channel from them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from bot.chat.locks import KeyedLocks
from bot.chat.rasa import RESTART, Button, RasaClient, Reply, parse_buttons
from bot.chat.store import LanguageMemory
from bot.program import default_store
from bot.program.language import detect_language

WEB_PREFIX = "web-"
TELEGRAM_PREFIX = "telegram-"
GREET = "/greet"
# First buttons the widget offers before anything is said (labels come from messages.yml intent_labels).
STARTERS: Tuple[str, ...] = ("ask_program_overview", "ask_categories", "ask_recommendation", "apply")
_PAYLOAD = re.compile(r"^/([A-Za-z0-9_]+)")


def channel_of(sender: str) -> str:
    return "telegram" if sender.startswith(TELEGRAM_PREFIX) else "web" if sender.startswith(WEB_PREFIX) else "other"


@dataclass(frozen=True)
class Turn:
    replies: List[Reply]
    language: str


@dataclass(frozen=True)
class HistoryItem:
    sender: str  # "user" or "bot"
    text: str
    buttons: Tuple[Button, ...] = ()


class ChatService:
    def __init__(self, rasa: RasaClient, memory: LanguageMemory) -> None:
        self.rasa = rasa
        self.memory = memory
        self.locks = KeyedLocks()  # one turn at a time per conversation, in the order they came

    async def _apply_language(self, sender: str, language: str) -> None:
        if await self.memory.get(sender) != language:
            await self.rasa.set_slot(sender, "language", language)

    async def converse(self, sender: str, text: str, language: Optional[str] = None) -> Turn:
        """Send one message (typed text or a button payload); raise RasaUnavailable when Rasa fails."""
        async with self.locks(sender):
            return await self._converse(sender, text, language)

    async def _converse(self, sender: str, text: str, language: Optional[str]) -> Turn:
        detected = detect_language(text)
        if text.strip().startswith(RESTART):
            await self.memory.forget(sender)  # a restart resets the slot to its initial value
            effective = language or "en"
        elif detected:
            effective = detected  # the actions follow the words of the message themselves
        elif language in ("en", "zh"):
            await self._apply_language(sender, language)
            effective = language
        else:
            effective = await self.memory.get(sender) or "en"
        metadata = {"channel": channel_of(sender), "language": effective}
        replies = await self.rasa.send(sender, text, metadata)
        if not text.strip().startswith(RESTART):
            await self.memory.set(sender, effective)
        return Turn(replies=replies, language=effective)

    async def set_language(self, sender: str, language: str) -> None:
        await self.rasa.set_slot(sender, "language", language)
        await self.memory.set(sender, language)

    async def restart(self, sender: str, language: str) -> None:
        """Start the conversation over (Rasa forgets everything) but keep the user's language."""
        await self.memory.forget(sender)
        await self.rasa.send(sender, RESTART, {"channel": channel_of(sender)})
        await self.set_language(sender, language)

    async def language_of(self, sender: str) -> Optional[str]:
        return await self.memory.get(sender)

    async def history(self, sender: str, language: str) -> List[HistoryItem]:
        """The conversation as its user saw it, from Rasa's tracker (button presses shown by their titles)."""
        return transcript(await self.rasa.events(sender), language)


def _intent_label(payload: str, language: str) -> Optional[str]:
    match = _PAYLOAD.match(payload)
    if not match:
        return None
    label = default_store.current().intent_labels.get(match.group(1))
    return label.get(language) if label else None


def transcript(events: List[Dict[str, Any]], language: str) -> List[HistoryItem]:
    items: List[HistoryItem] = []
    titles: Dict[str, str] = {}  # payload -> title, from every button the assistant showed so far
    turns: List[int] = []  # where each user turn starts in `items`
    for event in events:
        kind = event.get("event")
        text = event.get("text") if isinstance(event.get("text"), str) else ""
        if kind == "bot":
            data = event.get("data") if isinstance(event.get("data"), dict) else {}
            buttons = parse_buttons(data.get("buttons"))
            for b in buttons:
                titles[b.payload] = titles[_normalise(b.payload)] = b.title
            if text or buttons:
                items.append(HistoryItem("bot", text, buttons))
        elif kind == "rewind":  # a turn the gateway undid (it failed inside Rasa): the user never saw it
            del items[turns.pop() if turns else len(items) :]
        elif kind == "user" and text:
            turns.append(len(items))
            if text.startswith("/"):
                shown = titles.get(text) or titles.get(_normalise(text)) or _intent_label(text, language)
                if shown is None:
                    continue  # a command nobody typed as such (a restart, an unknown payload): not shown
                text = shown
            if items and items[-1] == HistoryItem("user", text):
                continue  # sent again after a failed turn that Rasa kept (a form turn): shown once
            items.append(HistoryItem("user", text))
    return items


def _normalise(payload: str) -> str:
    """`/intent{"a": 1}` and `/intent{"a":1}` are the same button press."""
    match = re.match(r"^(/[A-Za-z0-9_]+)(\{.*\})$", payload, re.S)
    if not match:
        return payload
    try:
        return match.group(1) + json.dumps(json.loads(match.group(2)), separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        return payload


def welcome(language: str) -> Reply:
    """What the widget shows before the first message: the assistant's own greeting and starter buttons."""
    kb = default_store.current()
    buttons = tuple(
        Button(title=kb.intent_labels[intent].get(language), payload=f"/{intent}")
        for intent in STARTERS
        if intent in kb.intent_labels
    )
    return Reply(text=kb.message("greet").get(language), buttons=buttons)
