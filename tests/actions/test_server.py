"""`python -m actions.server` as make run starts it: on loopback, and only Rasa (holding the shared secret)
may run an action. A call without the secret is refused and changes nothing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, Iterator, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-action-secret-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, body: Optional[dict] = None, headers: Optional[Dict[str, str]] = None) -> Tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def listening_addresses(port: int) -> set:
    """Local addresses in LISTEN state on `port` (from /proc/net/tcp and tcp6, hex little-endian)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("actions") / "actions.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ACTION_SERVER_SECRET": SECRET, "APP_ENV": "development"}
    env.pop("ACTIONS_HOST", None)  # the default
    proc = subprocess.Popen([sys.executable, "-m", "actions.server", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-2000:]
            try:
                if call(f"{url}/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def deletion_call(sender: str) -> dict:
    return {"next_action": "action_request_data_deletion", "sender_id": sender, "version": "3.6.21",
            "tracker": {"sender_id": sender, "slots": {}, "latest_message": {"text": "delete my data", "intent": {}},
                        "events": [], "active_loop": {}, "paused": False, "followup_action": None,
                        "latest_event_time": None, "latest_action_name": None, "latest_input_channel": "rest"},
            "domain": {}}


def test_it_listens_on_loopback_only(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, and nothing on 0.0.0.0 or ::


@pytest.mark.parametrize("headers", [{}, {"X-Action-Secret": ""}, {"X-Action-Secret": "wrong"},
                                     {"X-Action-Secret": SECRET[:-1]}, {"Authorization": f"Bearer {SECRET}"}])
def test_an_action_call_without_the_secret_is_refused(server: str, headers: Dict[str, str]) -> None:
    status, body = call(f"{server}/webhook", deletion_call("web-victim"), headers)
    assert status == 401 and "X-Action-Secret" in body["error"] and "events" not in body
    assert call(f"{server}/actions", None, headers)[0] == 401  # not even the list of actions


def test_with_the_secret_rasa_reaches_the_actions(server: str) -> None:
    status, body = call(f"{server}/actions", None, {"X-Action-Secret": SECRET})
    assert status == 200 and {"name": "action_request_data_deletion"} in body


async def test_an_empty_secret_refuses_every_call() -> None:
    from actions.server import build

    check = [m for m in build(secret="").request_middleware if m.__name__ == "check"][0]
    for headers in ({}, {"X-Action-Secret": ""}, {"X-Action-Secret": "anything"}):
        refused = await check(SimpleNamespace(path="/webhook", headers=headers))
        assert refused is not None and refused.status == 401
    assert await check(SimpleNamespace(path="/health", headers={})) is None  # liveness stays open
