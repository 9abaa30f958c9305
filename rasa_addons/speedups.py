"""Two hot spots of Rasa 3.6, each replaced by the same work done once:

- Every custom action's answer is checked with `jsonschema.validate`, which first re-checks the whole events
  schema against the JSON-Schema metaschema: about 25 ms of a 60 ms turn here (make bench). The same check
  with a validator built once is under 1 ms. Same schema, same errors, same message.
- Every event read back (a tracker loaded from Redis, an action's answer) finds its class by walking all
  subclasses of `Event` (`Event.resolve_by_type`): two thirds of the time it takes to load a tracker. A
  dictionary of the classes, built on first use and rebuilt when a name is not in it, gives the same class.
"""

from __future__ import annotations

import logging
from typing import Any, Dict

logger = logging.getLogger(__name__)


def apply() -> None:
    _validator_built_once()
    _event_classes_by_name()


def _event_classes_by_name() -> None:
    import rasa.shared.utils.common
    from rasa.shared.core.events import Event

    if getattr(Event, "_classes_by_name", None) is not None:
        return
    original = Event.resolve_by_type
    classes: Dict[str, Any] = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        found = classes.get(type_name)
        if found is None:  # first use, or a class defined since: look again, as Rasa does
            classes.clear()
            for cls in rasa.shared.utils.common.all_subclasses(Event):
                classes.setdefault(cls.type_name, cls)  # the first match wins, as in Rasa's loop
            found = classes.get(type_name)
        return found if found is not None else original(type_name, default)

    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign]
    Event._classes_by_name = classes  # type: ignore[attr-defined]
    logger.debug("events find their class in a dictionary")


def _validator_built_once() -> None:
    from jsonschema import ValidationError
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    if getattr(RemoteAction, "_validator_built_once", False):
        return
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # what validate() did on every call, now once
    validator = cls(schema)

    def _validate_action_result(self: Any, result: Dict[str, Any]) -> bool:
        try:
            validator.validate(result)
            return True
        except ValidationError as e:
            e.message += (
                ". Failed to validate Action server response from API, "
                "make sure your response from the Action endpoint is valid. "
                f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
            )
            raise e

    RemoteAction._validate_action_result = _validate_action_result
    RemoteAction._validator_built_once = True
    logger.debug("action answers are checked with a validator built once")
