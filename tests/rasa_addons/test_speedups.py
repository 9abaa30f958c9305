"""Rasa's check of action answers, after rasa_addons.speedups (Python 3.10)."""

import pytest

from rasa_addons import speedups


def test_action_answers_are_still_checked_after_the_speed_up() -> None:
    import jsonschema
    from rasa.core.actions.action import RemoteAction

    speedups.apply()
    action = RemoteAction.__new__(RemoteAction)
    assert action._validate_action_result({"events": [{"event": "slot", "name": "a", "value": 1}], "responses": []})
    with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": [{"event": "no-such-event"}]})


def test_events_find_the_same_class_as_rasas_own_lookup() -> None:
    import rasa.shared.utils.common
    from rasa.shared.core.events import Event, SlotSet, UserUttered

    speedups.apply()
    names = {cls.type_name for cls in rasa.shared.utils.common.all_subclasses(Event)}
    for name in names:  # Rasa's loop: the first subclass with that name
        first = next(c for c in rasa.shared.utils.common.all_subclasses(Event) if c.type_name == name)
        assert Event.resolve_by_type(name) is first
    assert Event.from_parameters({"event": "slot", "name": "language", "value": "zh"}) == SlotSet("language", "zh")
    assert Event.from_parameters(UserUttered("hi", {"name": "greet"}).as_dict()) == UserUttered("hi", {"name": "greet"})
    assert Event.resolve_by_type("no_such_event", SlotSet) is SlotSet
    with pytest.raises(ValueError):
        Event.resolve_by_type("no_such_event")
