"""The Rasa client against fake Rasa replicas over real HTTP: fail-over, failed turns undone and retried."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from bot.chat.rasa import RasaClient, RasaUnavailable
from bot.chat.service import transcript
from tests.fakes.rasa import FakeRasa
from tests.fakes.server import ServerThread, free_port


@pytest.fixture
def two() -> Iterator[Tuple[FakeRasa, FakeRasa]]:
    a, b = FakeRasa(), FakeRasa()
    with ServerThread(a.app) as sa, ServerThread(b.app) as sb:
        a.url, b.url = sa.url, sb.url  # type: ignore[attr-defined]
        yield a, b


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _send(urls: List[str], sender: str, message: str, token: str = "fake-token") -> List[Any]:
    async with RasaClient(urls, token, retry_delays=(0.01, 0.01), timeout=2.0) as rasa:
        return await rasa.send(sender, message, {"channel": "web"})


def test_a_sender_sticks_to_one_replica_and_fails_over_when_it_is_down(two) -> None:
    a, b = two
    urls = [a.url, b.url]
    for i in range(6):
        run(_send(urls, "web-same", f"hello {i}"))
    assert {len(a.messages()), len(b.messages())} == {0, 6}  # one replica served every turn, in order
    served = a if a.messages() else b
    assert served.messages() == [f"hello {i}" for i in range(6)]

    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    replies = run(_send([dead, b.url], "web-other", "hi"))
    assert replies and b.messages("web-other") == ["hi"]


def test_an_empty_answer_is_undone_on_the_tracker_and_tried_again(two) -> None:
    a, _ = two
    calls: List[str] = []

    def flaky(sender: str, message: str) -> List[Dict[str, Any]]:
        calls.append(message)
        return [] if len(calls) == 1 else [{"text": "answer"}]  # first attempt: Rasa swallowed an error

    a.replier = flaky
    replies = run(_send([a.url], "web-flaky", "what are the benefits?"))
    assert [r.text for r in replies] == ["answer"] and calls == ["what are the benefits?"] * 2
    events = a.events["web-flaky"]
    assert [e["event"] for e in events] == ["user", "rewind", "action", "user", "bot"]
    assert events[2]["name"] == "action_listen"
    # The message keeps its id on every attempt: Rasa answers a second send of a stored turn from its tracker.
    assert events[0]["metadata"]["turn_id"] == events[3]["metadata"]["turn_id"]
    # What the user sees afterwards holds the question once.
    assert [(i.sender, i.text) for i in transcript(events, "en")] == [("user", "what are the benefits?"), ("bot", "answer")]


def test_silence_every_time_becomes_unavailable_and_only_our_turns_are_undone(two) -> None:
    a, _ = two
    a.replier = lambda sender, message: []
    with pytest.raises(RasaUnavailable):
        run(_send([a.url], "web-silent", "hello"))
    kinds = [e["event"] for e in a.events["web-silent"]]
    assert kinds == ["user", "rewind", "action"] * 3


def test_a_restart_may_be_silent() -> None:
    fake = FakeRasa(replier=lambda sender, message: [])
    with ServerThread(fake.app) as server:
        assert run(_send([server.url], "web-r", "/restart")) == []
    assert fake.messages() == ["/restart"]


def test_a_server_error_is_retried_but_a_time_out_is_not(two) -> None:
    a, _ = two
    a.down = True
    with pytest.raises(RasaUnavailable) as error:
        run(_send([a.url], "web-down", "hello"))
    assert error.value.retryable
    a.down, a.delay = False, 3.0  # longer than the client's 2 s timeout
    with pytest.raises(RasaUnavailable) as error:
        run(_send([a.url], "web-slow", "hello"))
    assert not error.value.retryable


def test_readiness_reports_each_replica() -> None:
    async def go() -> Dict[str, Any]:
        async with RasaClient([f"http://127.0.0.1:{free_port()}"]) as rasa:
            return await rasa.readiness()

    (state,) = run(go()).values()
    assert state["status"] == "unreachable"


def test_a_failed_form_turn_is_not_rewound(two) -> None:
    """Rasa folds a form's turns together, so a failed one drops out by itself; a rewind would cut into the form."""
    a, _ = two
    a.events["web-form"] = [{"event": "active_loop", "name": "screening_form"}]
    a.turn_actions = ["screening_form"]
    a.replier = lambda sender, message: []
    with pytest.raises(RasaUnavailable):
        run(_send([a.url], "web-form", "Siemens AG"))
    assert [e["event"] for e in a.events["web-form"]].count("user") == 3
    assert not any(e["event"] == "rewind" for e in a.events["web-form"])
