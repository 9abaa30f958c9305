"""A conversation as its user saw it, from Rasa's events: the one builder behind the staff transcript of a
lead (the actions) and the widget's history (the gateway).

- Bot messages with their buttons; user messages, a pressed button shown by its title.
- A `restart` starts the conversation over: only what follows it is shown.
- A `rewind` (the gateway undid a turn that failed inside Rasa, then sent the message again) removes the
  last user message and what followed it: the retried message shows once.
- An `undo` removes what the last action said.
- A message sent again after a failed turn that Rasa kept (a form turn) shows once.
- A command nobody typed as such (`/restart`, a payload with no known title) is left out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from bot.shared.replies import Button

LabelFor = Callable[[str], Optional[str]]  # a payload's title when no button showing it was seen

# The actions that attach this transcript to a lead: Rasa sends them every event of the current session
# (rasa_addons.tracker_store); other actions get the part of a long session that a turn reads.
WHOLE_SESSION_ACTIONS = frozenset({"action_screening_submit", "action_handoff_submit"})


@dataclass(frozen=True)
class Turn:
    sender: str  # "user" or "bot"
    text: str
    buttons: Tuple[Button, ...] = ()
    timestamp: float = 0.0


def parse_buttons(raw: Any) -> Tuple[Button, ...]:
    """Buttons as Rasa stores and sends them ([{title, payload}]), skipping anything malformed."""
    buttons = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and isinstance(item.get("title"), str) and isinstance(item.get("payload"), str):
            buttons.append(Button(title=item["title"], payload=item["payload"]))
    return tuple(buttons)


def normalise_payload(payload: str) -> str:
    """`/intent{"a": 1}` and `/intent{"a":1}` are the same button press."""
    match = re.match(r"^(/[A-Za-z0-9_]+)(\{.*\})$", payload, re.S)
    if not match:
        return payload
    try:
        return match.group(1) + json.dumps(json.loads(match.group(2)), separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        return payload


def turns(events: Iterable[Mapping[str, Any]], label_for: LabelFor = lambda payload: None) -> List[Turn]:
    items: List[Turn] = []
    titles: Dict[str, str] = {}  # payload -> title, from every button the assistant showed so far
    user_starts: List[int] = []  # where each user turn starts in `items`
    action_start = 0  # where the output of the latest action starts in `items`
    for event in events:
        kind = event.get("event")
        text = event.get("text") if isinstance(event.get("text"), str) else ""
        timestamp = float(event.get("timestamp") or 0)
        if kind == "restart":
            items, user_starts, action_start = [], [], 0
        elif kind == "action":
            action_start = len(items)
        elif kind == "undo":  # Rasa reverts the latest action, and what it said with it
            del items[action_start:]
        elif kind == "rewind":  # back to before the latest user message
            del items[user_starts.pop() if user_starts else len(items) :]
            action_start = min(action_start, len(items))
        elif kind == "bot":
            data = event.get("data") if isinstance(event.get("data"), dict) else {}
            buttons = parse_buttons(data.get("buttons"))
            for button in buttons:
                titles[button.payload] = titles[normalise_payload(button.payload)] = button.title
            if text or buttons:
                items.append(Turn("bot", text, buttons, timestamp))
        elif kind == "user":
            user_starts.append(len(items))  # every user event, shown or not: a rewind undoes the latest
            if text.startswith("/"):
                text = titles.get(text) or titles.get(normalise_payload(text)) or label_for(text) or ""
            if not text or (items and items[-1].sender == "user" and items[-1].text == text):
                continue  # a command nobody typed, or sent again after a failed turn Rasa kept: shown once
            items.append(Turn("user", text, (), timestamp))
    return items
