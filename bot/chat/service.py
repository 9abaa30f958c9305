"""A conversation with the assistant, whatever the channel: language handling, restart, history.

The actions answer in the language of the message when it has words, else in the `language` slot.
Button payloads and commands have no words, so a channel passes the language its user chose and we set
the slot first — only when it differs from what we last told Rasa (kept in Redis), to save a round trip.
Sender ids come from the channel registry (bot.shared.channels): the actions derive the lead's channel from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from bot.chat.locks import KeyedLocks
from bot.chat.rasa import RESTART, RasaClient
from bot.chat.store import LanguageMemory
from bot.shared.channels import channel_of
from bot.shared.program import default_store
from bot.shared.program.answers import entry_button
from bot.shared.program.language import detect_language
from bot.shared.program.payloads import payload_label
from bot.shared.replies import Button, Reply
from bot.shared.transcript import turns

GREET = "/greet"
UNKNOWN: Any = object()  # the remembered language was not read yet
# First buttons the widget offers before anything is said: topics (topics.yml) and `/intents` (their
# titles in messages.yml intent_labels).
STARTERS: Tuple[str, ...] = ("overview", "categories", "/ask_recommendation", "/apply")


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

    async def converse(self, sender: str, text: str, language: Optional[str] = None,
                       remembered: Any = UNKNOWN) -> Turn:
        """Send one message (typed text or a button payload); raise RasaUnavailable when Rasa fails.
        `remembered`: the conversation's language as the caller already read it from Redis (the gateway
        reads it in the same round trip as its rate limits), else it is read here when needed."""
        async with self.locks(sender):
            return await self._converse(sender, text, language, remembered)

    async def _remembered(self, sender: str, remembered: Any) -> Optional[str]:
        return await self.memory.get(sender) if remembered is UNKNOWN else remembered

    async def _converse(self, sender: str, text: str, language: Optional[str], remembered: Any) -> Turn:
        detected = detect_language(text)
        restart = text.strip().startswith(RESTART)
        if restart:
            await self.memory.forget(sender)  # a restart resets the slot to its initial value
            effective = language or "en"
        elif detected:
            effective = detected  # the actions follow the words of the message themselves
        elif language in ("en", "zh"):
            remembered = await self._remembered(sender, remembered)
            if remembered != language:
                await self.rasa.set_slot(sender, "language", language)
            effective = language
        else:
            remembered = await self._remembered(sender, remembered)
            effective = remembered or "en"
        metadata = {"channel": channel_of(sender), "language": effective}
        replies = await self.rasa.send(sender, text, metadata)
        # Written only when it changed (a lost write costs a slot call later, never a wrong language).
        if not restart and (remembered is UNKNOWN or remembered != effective):
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


def transcript(events: List[Dict[str, Any]], language: str) -> List[HistoryItem]:
    """The conversation as its user saw it (bot.shared.transcript: rewinds, undo and restarts honoured)."""
    return [
        HistoryItem(turn.sender, turn.text, turn.buttons)
        for turn in turns(events, lambda payload: payload_label(payload, language))
    ]


def welcome(language: str) -> Reply:
    """What the widget shows before the first message: the assistant's own greeting and starter buttons."""
    kb = default_store.current()
    buttons = tuple(entry_button(kb, entry, language) for entry in STARTERS)
    return Reply(text=kb.message("greet").get(language), buttons=buttons)
