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


def test_the_check_by_event_type_agrees_with_the_full_schema_on_every_event_and_field() -> None:
    """Every event type, each of its fields set to every JSON type, and answers shaped wrong around them: the
    quick check passes exactly what Rasa's full schema passes."""
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    full = validator_for(schema)(schema)
    quick = speedups._by_event_type(schema, validator_for(schema))
    assert quick is not None
    values = [None, 0, 1.5, True, "x", "", [], [{"a": 1}], {}, {"a": 1}]
    items = schema["properties"]["events"]["items"]
    answers = [{}, [], None, "x", {"events": None}, {"events": {}}, {"events": [1]}, {"events": [[]]},
               {"events": [{}]}, {"events": [{"event": None}]}, {"events": [{"event": "no-such-event"}]},
               {"responses": [1]}, {"responses": [{}]}, {"events": [], "responses": None}]
    for branch in items["oneOf"]:
        name = branch["properties"]["event"]["const"]
        fields = {**items["properties"], **branch["properties"]}
        answers.append({"events": [{"event": name}]})
        answers.append({"events": [{"event": name, **{field: "x" for field in branch.get("required", [])}}]})
        for field in fields:
            if field == "event":
                continue
            for value in values:
                event = {"event": name, **{f: "x" for f in branch.get("required", [])}, field: value}
                answers.append({"events": [event], "responses": []})
                answers.append({"events": [{"event": "action", "name": "a"}, event]})
    assert any(full.is_valid(a) for a in answers) and not all(full.is_valid(a) for a in answers)
    for answer in answers:
        assert quick(answer) == full.is_valid(answer), answer


def test_calls_to_an_endpoint_share_one_connection() -> None:
    """Three custom-action calls, one connection: Rasa's endpoint config no longer opens one a call."""
    import asyncio

    from aiohttp import web
    from rasa.utils.endpoints import EndpointConfig

    speedups.apply()
    peers = []

    async def webhook(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername"))
        return web.json_response({"events": [], "responses": []})

    async def go() -> list:
        app = web.Application()
        app.router.add_post("/webhook", webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"X-Action-Secret": "s"})
        answers = [await endpoint.request(json={"next_action": "a"}, method="post") for _ in range(3)]
        async with endpoint.session() as session:
            await session.close()  # a closed session is replaced on the next call
        answers.append(await endpoint.request(json={"next_action": "a"}, method="post"))
        async with endpoint.session() as session:
            await session.close()
        await runner.cleanup()
        return answers

    answers = asyncio.run(go())
    assert answers == [{"events": [], "responses": []}] * 4
    assert len(set(peers[:3])) == 1 and peers[3] != peers[0]


def test_an_empty_domain_is_still_told_from_the_project_one() -> None:
    from pathlib import Path

    from rasa.shared.core.domain import Domain

    speedups.apply()
    root = Path(__file__).resolve().parents[2]
    assert Domain.empty().is_empty() and Domain.from_dict({}).is_empty()
    assert not Domain.load(str(root / "domain.yml")).is_empty()
    assert not Domain.from_dict({"intents": ["greet"]}).is_empty()


def test_the_modules_whose_deep_copies_are_skipped_copy_only_for_debug_log_lines() -> None:
    """Each `copy.deepcopy(...)` in those modules is an argument of a `structlogger.debug(...)` call; and with
    debug logging off it hands the value itself, with it on a real copy."""
    import ast
    import importlib
    import inspect
    import logging

    speedups.apply()
    for name in speedups.LOG_ONLY_COPIES:
        module = importlib.import_module(name)
        tree = ast.parse(inspect.getsource(module))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        copies = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) == "copy.deepcopy"]
        assert copies, name
        for call in copies:
            node = call
            while node in parents and not (isinstance(node, ast.Call) and ast.unparse(node.func) == "structlogger.debug"):
                node = parents[node]
            assert isinstance(node, ast.Call) and ast.unparse(node.func) == "structlogger.debug", (name, call.lineno)
        uses = {ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.Attribute) and ast.unparse(n.value) == "copy"}
        assert uses == {"copy.deepcopy"}, (name, uses)
    value = {"events": [{"event": "slot"}]}
    rasa_logger = logging.getLogger("rasa")
    level = rasa_logger.level
    try:
        rasa_logger.setLevel(logging.INFO)
        assert speedups._deepcopy_when_logged(value) is value
        rasa_logger.setLevel(logging.DEBUG)
        copied = speedups._deepcopy_when_logged(value)
        assert copied == value and copied is not value and copied["events"][0] is not value["events"][0]
    finally:
        rasa_logger.setLevel(level)
