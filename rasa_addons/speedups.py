"""Hot spots of Rasa 3.6, each replaced by the same work done once (or not at all when nobody uses it):

- Every custom action's answer is checked with `jsonschema.validate`, which first re-checks the whole events
  schema against the JSON-Schema metaschema: about 25 ms of a 60 ms turn here (make bench). The same check
  with a validator built once is under 1 ms. Same schema, same errors, same message.
- Every event read back (a tracker loaded from Redis, an action's answer) finds its class by walking all
  subclasses of `Event` (`Event.resolve_by_type`): two thirds of the time it takes to load a tracker. A
  dictionary of the classes, built on first use and rebuilt when a name is not in it, gives the same class.
- Every call to an endpoint (each custom action) opens a new aiohttp session and a new connection, and closes
  both: about 0.5 ms of Rasa's CPU a turn (make bench, issue 14). One session per event loop and endpoint
  headers is kept instead, its idle connections dropped after KEEPALIVE_SECONDS, well before the action
  server's own keep-alive (Sanic: 5 s) could close one under a request.
- Every message, Rasa asks whether the domain is empty by building an empty domain and comparing the two as
  dictionaries (2% of a turn's CPU); the empty domain's dictionary is built once.
- The processor and the rule and memoization policies deep-copy events and states for their debug log lines
  even when debug logging is off (3% of a turn's CPU). In those modules, whose only deep copies are such log
  arguments (LOG_ONLY_COPIES; a test reads their source), a deep copy is made only when Rasa logs at debug level.
- Every prediction replays the tracker's events once per policy to build its states (rasa_addons.prior_states):
  a tracker now keeps its replay, and each later call replays only the events added since.
"""

from __future__ import annotations

import asyncio
import copy
import importlib
import logging
import types
import weakref
from typing import Any, Dict, List, Tuple

from rasa_addons import prior_states

logger = logging.getLogger(__name__)
KEEPALIVE_SECONDS = 2.0
LOG_ONLY_COPIES = ("rasa.core.processor", "rasa.core.policies.rule_policy", "rasa.core.policies.memoization")


def apply() -> None:
    _validator_built_once()
    _event_classes_by_name()
    _endpoint_sessions_reused()
    _empty_domain_built_once()
    _log_copies_only_when_logged()
    prior_states.apply()  # the dialogue's states replayed once per tracker, not once per policy and prediction


def _deepcopy_when_logged(value: Any, memo: Any = None) -> Any:
    if logging.getLogger("rasa").isEnabledFor(logging.DEBUG):
        return copy.deepcopy(value, memo)
    return value  # only passed to a debug log line that is not written


def _log_copies_only_when_logged() -> None:
    for name in LOG_ONLY_COPIES:
        module = importlib.import_module(name)
        if getattr(module.copy, "_gzcp_log_only", False):
            continue
        module.copy = types.SimpleNamespace(  # type: ignore[attr-defined]
            deepcopy=_deepcopy_when_logged, copy=copy.copy, _gzcp_log_only=True
        )


def _empty_domain_built_once() -> None:
    from rasa.shared.core.domain import Domain

    if getattr(Domain, "_gzcp_empty_built_once", False):
        return
    empty: List[Dict[str, Any]] = []

    def is_empty(self: Any) -> bool:
        if not empty:
            empty.append(Domain.empty().as_dict())
        return self.as_dict() == empty[0]

    Domain.is_empty = is_empty  # type: ignore[method-assign]
    Domain._gzcp_empty_built_once = True  # type: ignore[attr-defined]


class _Borrowed:
    """What `async with endpoint.session() as session` gets: the kept session, left open on the way out."""

    def __init__(self, session: Any) -> None:
        self.session = session

    async def __aenter__(self) -> Any:
        return self.session

    async def __aexit__(self, *exc: object) -> None:
        return None


def _endpoint_sessions_reused() -> None:
    import aiohttp
    from rasa.utils import endpoints

    config = endpoints.EndpointConfig
    if getattr(config, "_sessions_reused", False):
        return
    original = config.session
    # headers and auth -> (the event loop it was made in, the session); one per endpoint: a session made in an
    # earlier loop (tests run several) is replaced, never kept beside the new one.
    kept: Dict[Tuple, Tuple[Any, Any]] = {}

    def session(self: Any) -> Any:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not in a coroutine: Rasa's own, closed by its caller
            return original(self)
        key = (tuple(sorted((self.headers or {}).items())), tuple(sorted((self.basic_auth or {}).items())))
        made_in, found = kept.get(key, (None, None))
        if found is None or found.closed or made_in() is not loop:
            auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
            found = aiohttp.ClientSession(  # as Rasa makes it, with pooled connections
                headers=self.headers,
                auth=auth,
                timeout=aiohttp.ClientTimeout(total=endpoints.DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS),
            )
            kept[key] = (weakref.ref(loop), found)
        return _Borrowed(found)

    config.session = session  # type: ignore[method-assign]
    config._sessions_reused = True  # type: ignore[attr-defined]
    logger.debug("endpoint calls reuse one session per event loop")


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


def _by_event_type(schema: Dict[str, Any], cls: Any) -> Any:
    """A check that passes exactly when `schema` does, faster: `events.items` is a `oneOf` whose branches each
    fix `event` to a different constant, so an event matches exactly one branch iff it matches the branch of
    its own `event` (and the common part). The whole answer is checked without `items`, each event against
    its own branch; None when the schema is not shaped so (a Rasa that changed it)."""
    try:
        items = schema["properties"]["events"]["items"]
        names = [branch["properties"]["event"]["const"] for branch in items["oneOf"]]
    except (KeyError, TypeError):
        return None
    if len(set(names)) != len(names):
        return None
    common = {key: value for key, value in items.items() if key != "oneOf"}
    per_event = {name: cls({"allOf": [common, branch]}) for name, branch in zip(names, items["oneOf"], strict=True)}
    outer = {**schema, "properties": {**schema["properties"], "events": {**schema["properties"]["events"]}}}
    del outer["properties"]["events"]["items"]
    whole = cls(outer)

    def is_valid(result: Any) -> bool:
        if not whole.is_valid(result):
            return False
        events = result.get("events") if isinstance(result, dict) else None
        for event in events if isinstance(events, list) else ():
            check = per_event.get(event.get("event")) if isinstance(event, dict) else None
            if check is None or not check.is_valid(event):
                return False
        return True

    return is_valid


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
    # The events' `oneOf` tries all 23 event schemas on every event (0.6 ms an answer): each event against its
    # own type's schema instead; anything it refuses goes through the full check, which words the error.
    quick = _by_event_type(schema, cls)

    def _validate_action_result(self: Any, result: Dict[str, Any]) -> bool:
        if quick is not None and quick(result):
            return True
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
