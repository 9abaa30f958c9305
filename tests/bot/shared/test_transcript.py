"""One transcript builder for the staff's lead transcript and the widget's history (both interpreters)."""

from __future__ import annotations

from typing import Any, Dict, List

from bot.shared.transcript import turns

BUTTON = '/inform{"choice":"enterprise"}'


def user(text: str, **extra: Any) -> Dict[str, Any]:
    return {"event": "user", "text": text, "timestamp": 1.0, **extra}


def bot(text: str, buttons: List[Dict[str, str]] = ()) -> Dict[str, Any]:
    return {"event": "bot", "text": text, "data": {"buttons": list(buttons)}, "timestamp": 2.0}


def shown(events: List[Dict[str, Any]]) -> List[tuple]:
    return [(t.sender, t.text) for t in turns(events)]


def test_a_turn_failed_and_sent_again_shows_once() -> None:
    events = [user("hi"), bot("hello"), user("what are the benefits?"), {"event": "rewind"},
              {"event": "action", "name": "action_listen"}, user("what are the benefits?"), bot("the benefits")]
    assert shown(events) == [("user", "hi"), ("bot", "hello"), ("user", "what are the benefits?"), ("bot", "the benefits")]


def test_a_rewind_removes_what_followed_the_last_user_message_only() -> None:
    events = [user("one"), bot("first"), user("two"), bot("lost reply"), {"event": "rewind"}]
    assert shown(events) == [("user", "one"), ("bot", "first")]


def test_an_undo_removes_what_the_last_action_said() -> None:
    events = [user("one"), {"event": "action", "name": "action_a"}, bot("kept"),
              {"event": "action", "name": "action_b"}, bot("undone"), {"event": "undo"}]
    assert shown(events) == [("user", "one"), ("bot", "kept")]


def test_a_restart_starts_the_conversation_over() -> None:
    events = [user("old"), bot("old reply"), {"event": "restart"}, user("new"), bot("new reply")]
    assert shown(events) == [("user", "new"), ("bot", "new reply")]


def test_a_pressed_button_shows_its_title_and_commands_are_left_out() -> None:
    events = [bot("which?", [{"title": "Enterprise", "payload": '/inform{"choice": "enterprise"}'}]),
              user(BUTTON), user("/restart_something"), user("/greet")]
    labels = {"/greet": None}
    assert [(t.sender, t.text) for t in turns(events, labels.get)] == [("bot", "which?"), ("user", "Enterprise")]
    assert turns(events)[0].buttons[0].title == "Enterprise"


def test_a_payload_without_a_seen_button_takes_its_label() -> None:
    assert shown([user("/apply")]) == []
    assert [(t.sender, t.text) for t in turns([user("/apply")], lambda p: "I want to join")] == [("user", "I want to join")]


def test_a_message_rasa_kept_from_a_failed_form_turn_shows_once() -> None:
    assert shown([user("Siemens AG"), user("Siemens AG"), bot("next question")]) == [
        ("user", "Siemens AG"), ("bot", "next question")]
