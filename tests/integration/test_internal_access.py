"""The internal servers as `make run` starts them (the `stack` fixture: a real Rasa and action server), probed
from outside as an attacker would: where they listen, what a call without the secrets gets, and that with
APP_ENV=production no process starts on a development secret. And the web app's access log: no conversation
token, no query string."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import httpx
import pytest

from bot.chat import identity
from tests.actions.test_server import deletion_call, listening_addresses
from tests.conftest import ROOT
from tests.fakes.server import free_port
from tests.integration.conftest import ACTIONS_PORT, RASA_PORT, Stack, actions_argv, new_conversation, rasa_argv
from tests.integration.test_bad_input import serve


def test_rasa_and_the_action_server_listen_on_loopback_only(stack: Stack) -> None:
    assert listening_addresses(RASA_PORT) == {"0100007F"}
    assert listening_addresses(ACTIONS_PORT) == {"0100007F"}


def test_an_action_call_without_the_secret_changes_nothing(stack: Stack) -> None:
    sender = "web-" + "c" * 32
    stack.say(sender, "hello")  # a conversation the attacker wants erased
    before = httpx.get(f"{stack.rasa_url}/conversations/{sender}/tracker", params={"token": stack.token}).json()
    url = f"http://127.0.0.1:{ACTIONS_PORT}/webhook"
    for headers in ({}, {"X-Action-Secret": "guess"}):
        refused = httpx.post(url, json=deletion_call(sender), headers=headers, timeout=10)
        assert refused.status_code == 401 and "events" not in refused.text
    after = httpx.get(f"{stack.rasa_url}/conversations/{sender}/tracker", params={"token": stack.token}).json()
    assert len(after["events"]) == len(before["events"])
    assert stack.say(sender, "what is the city partner program?")  # and Rasa, holding the secret, still gets answers


def test_rasas_api_needs_its_token(stack: Stack) -> None:
    for path in ("/status", "/conversations/web-x/tracker", "/model/parse"):
        assert httpx.get(f"{stack.rasa_url}{path}", timeout=10).status_code in (401, 403, 405)
        guessed = httpx.get(f"{stack.rasa_url}{path}", params={"token": "dev-only-rasa-token"}, timeout=10)
        assert guessed.status_code in (401, 403, 405)


# A Redis URL with a password (on a port where nothing listens: a Redis that is down is reported, not refused),
# so that the development secrets are what the process refuses.
PRODUCTION_WITH_DEV_SECRETS: Dict[str, str] = {"APP_ENV": "production", "PYTHONPATH": str(ROOT),
                                               "REDIS_URL": "redis://:a-long-production-password-0123@127.0.0.1:1/0"}

PROCESSES: Dict[str, List[str]] = {
    "web app": [sys.executable, "-c", "import bot.main"],
    "delivery worker": [sys.executable, "-m", "bot.leads.delivery", "run"],
    "telegram bridge": [sys.executable, "-m", "bot.telegram"],
    "action server": actions_argv(0),
}


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_production_refuses_to_start_on_development_secrets(process: str) -> None:
    env = {**os.environ, **PRODUCTION_WITH_DEV_SECRETS, "TELEGRAM_BOT_TOKEN": "123:abc"}
    done = subprocess.run(PROCESSES[process], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "refusing to start with APP_ENV=production" in output and "RASA_AUTH_TOKEN" in output
    assert "dev-only-rasa-token" not in output  # names, never values


def test_a_rasa_server_refuses_to_start_on_development_secrets(tmp_path: Path) -> None:
    env = {**os.environ, **PRODUCTION_WITH_DEV_SECRETS, "ACTION_ENDPOINT_URL": "http://127.0.0.1:1/webhook"}
    done = subprocess.run(rasa_argv(free_port()), cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode != 0 and "refusing to start with APP_ENV=production" in done.stdout + done.stderr


def test_the_access_log_holds_no_token_and_no_query_string(stack: Stack, tmp_path: Path) -> None:
    with serve(free_port(), tmp_path, RASA_URL=stack.rasa_url, RASA_URLS=stack.rasa_url,
               RASA_AUTH_TOKEN=stack.token) as app:
        token, _ = new_conversation()
        headers = {identity.HEADER: token}
        assert httpx.post(f"{app.url}/api/chat", json={"message": "hi, I'm li.hua@example.org"}, headers=headers,
                          timeout=60).status_code == 200
        httpx.get(f"{app.url}/api/chat/history", params={"lang": "en", "q": "Li Hua"}, headers=headers, timeout=30)
        httpx.get(f"{app.url}/staff/leads", params={"q": "Li Hua"}, timeout=30)
        log = app.log.read_text()
    assert "/api/chat/history" in log and "/staff/leads" in log  # the requests were logged...
    assert token not in log and token.split(".")[0] not in log  # ...without the token
    assert "Hua" not in log and "q=" not in log and "lang=" not in log and "li.hua" not in log
