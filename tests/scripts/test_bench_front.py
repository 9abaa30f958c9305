"""`make bench`'s measure of what a front (the gateway) adds: conversations through it and straight to Rasa in
alternating blocks, each way's server CPU per message, against two recording servers."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any, Dict, List

from scripts.bench.bots import BotSetup
from scripts.bench.load import Transport
from scripts.bench.main import _front_cost
from tests.fakes.server import ServerThread, request_body


class Recorder:
    """Answers every POST with one bot message and notes (its name, the sender)."""

    def __init__(self, name: str, log: List[tuple]) -> None:
        self.name, self.log = name, log

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        body = await request_body(receive)
        self.log.append((self.name, json.loads(body)["sender"]))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'[{"text": "hi"}]'})


def _transport(url: str) -> Transport:
    return Transport(url=url, body=lambda sender, text: {"sender": sender, "message": text},
                     answered=lambda reply: bool(reply))


def test_the_front_and_the_direct_way_alternate_and_each_gets_its_own_cpu_per_message() -> None:
    log: List[tuple] = []
    with ServerThread(Recorder("front", log)) as front, ServerThread(Recorder("direct", log)) as direct:
        setup = BotSetup(key="g", title="g", services=[], rasa_services=(), rasa_urls=(), transport=_transport(front.url),
                         parse_url=None, conversations=[["a", "b", "c"]], probe="a", parse_texts=[],
                         direct=_transport(direct.url))
        # The servers run in this process: its CPU is the "server" CPU here.
        result = asyncio.run(_front_cost(setup, [os.getpid()], "t", pairs=2, block=6))
    ways = [name for name, _ in log]
    assert ways == ["front"] * 6 + ["direct"] * 12 + ["front"] * 6  # ABBA: drift falls on both alike
    assert len({sender for _, sender in log}) == 8  # a new conversation every 3 messages
    assert result["messages_each"] == 12 and result["pairs"] == 2
    assert result["front_cpu_ms_per_msg"] > 0 and result["direct_cpu_ms_per_msg"] > 0
    assert result["added_cpu_ms_per_msg"] == round(result["front_cpu_ms_per_msg"] - result["direct_cpu_ms_per_msg"], 2)
