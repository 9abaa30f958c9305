"""Start the real action server and Rasa server (on test ports, Redis test database) once per run."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import httpx
import pytest

from bot.chat import identity
from bot.shared.redis_conn import env_for_db
from scripts.processes import local_argv
from tests import redis_env
from tests.conftest import ROOT

MODEL = ROOT / "models/current.tar.gz"
TOKEN = "integration-test-token"
# Rasa reads conversations through a window of this many events (production: 48), so that every screening
# here crosses it several times, and a turn that reads the wrong state shows.
TRACKER_WINDOW = "16"
RASA_PORT = int(os.environ.get("TEST_RASA_PORT", "15005"))
ACTIONS_PORT = int(os.environ.get("TEST_ACTIONS_PORT", "15055"))
CONTACT_EMAIL = "integration-staff@example.org"
INTAKE_PORT = int(os.environ.get("TEST_INTAKE_PORT", "18000"))
INTAKE_KEY = "integration-intake-key"


class Stack:
    def __init__(self, rasa_url: str, redis_db: int, logs: Path) -> None:
        self.rasa_url = rasa_url
        self.logs = logs  # rasa.log and actions.log, for tests that read what was logged
        self.token = TOKEN
        self.redis = redis_env.client(redis_db)

    def say(self, sender: str, message: str) -> List[Dict]:
        response = httpx.post(f"{self.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": message}, timeout=30)
        response.raise_for_status()
        return response.json()


def new_conversation() -> Tuple[str, str]:
    """A conversation token as the gateway issues it (same CONVERSATION_SECRET as the processes under test),
    and the Rasa sender id it stands for."""
    token = identity.issue_token()
    return token, f"web-{identity.conversation_of(token)}"


def process_argv(name: str, **env: str) -> List[str]:
    """Process `name` of deploy/processes.yml as scripts/run_all.sh starts it (the same definition), on loopback,
    with `env` over this test run's environment; run it with cwd=ROOT."""
    return local_argv(name, {**os.environ, "RASA_HOST": "127.0.0.1", "ACTIONS_HOST": "127.0.0.1", "APP_HOST": "127.0.0.1",
                             **env}, root=ROOT)


def rasa_argv(port: int) -> List[str]:
    """A Rasa server (API on with the test token, our channels and log filter)."""
    return process_argv("rasa", RASA_PORT=str(port), RASA_AUTH_TOKEN=TOKEN)


def actions_argv(port: int) -> List[str]:
    """The action server (loopback, refusing calls without the shared secret)."""
    return process_argv("actions", ACTIONS_PORT=str(port))


def _wait(url: str, proc: subprocess.Popen, log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {seconds}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[Stack]:
    assert MODEL.exists(), "no trained model: run `make model` first"
    logs = tmp_path_factory.mktemp("logs")
    redis_db = int(os.environ.get("REDIS_DB", "15"))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{ACTIONS_PORT}/webhook",
        **env_for_db(os.environ, redis_db),  # REDIS_DB, and REDIS_URL (endpoints.yml reads it) on that database
        "PROGRAM_CONTACT_EMAIL": CONTACT_EMAIL,
        "PROGRAM_CONTACT_PHONE": "",
        # The intake the delivery worker posts to (tests that need it start it: see test_screening_e2e.py).
        "INTAKE_URL": f"http://127.0.0.1:{INTAKE_PORT}",
        "INTAKE_API_KEY": INTAKE_KEY,
    }
    env.setdefault("REDIS_HOST", "127.0.0.1")
    env.setdefault("REDIS_PORT", "6379")
    env.setdefault("TRACKER_TTL_SECONDS", "3600")
    env["TRACKER_WINDOW"] = TRACKER_WINDOW
    procs = []
    try:
        actions_log = logs / "actions.log"
        actions = subprocess.Popen(
            actions_argv(ACTIONS_PORT),
            cwd=ROOT,
            env=env,
            stdout=actions_log.open("w"),
            stderr=subprocess.STDOUT,
        )
        procs.append(actions)
        rasa_log = logs / "rasa.log"
        rasa = subprocess.Popen(
            rasa_argv(RASA_PORT),
            cwd=ROOT,
            env=env,
            stdout=rasa_log.open("w"),
            stderr=subprocess.STDOUT,
        )
        procs.append(rasa)
        _wait(f"http://127.0.0.1:{ACTIONS_PORT}/health", actions, actions_log, 120)
        _wait(f"http://127.0.0.1:{RASA_PORT}/status?token={TOKEN}", rasa, rasa_log, 240)
        yield Stack(f"http://127.0.0.1:{RASA_PORT}", redis_db, logs)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
