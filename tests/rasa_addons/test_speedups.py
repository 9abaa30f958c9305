"""Rasa's check of action answers, after rasa_addons.speedups (Python 3.10)."""

import pytest


def test_action_answers_are_still_checked_after_the_speed_up() -> None:
    import jsonschema
    from rasa.core.actions.action import RemoteAction

    from rasa_addons import speedups

    speedups.apply()
    action = RemoteAction.__new__(RemoteAction)
    assert action._validate_action_result({"events": [{"event": "slot", "name": "a", "value": 1}], "responses": []})
    with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": [{"event": "no-such-event"}]})
