"""The action server (`rasa run actions` imports the actions package) stops at start on a REDIS_URL whose
password Redis refuses, with one message naming REDIS_URL and no password; it starts with the right one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import ROOT
from tests.redis_server import RedisServer, redis_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_server(Path(tmp_path_factory.mktemp("redis")), tls=False) as started:
        yield started


def import_actions(url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REDIS_URL": url}
    return subprocess.run([sys.executable, "-c", "import actions; print('started')"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("password", ["wrong-password", ""])
def test_a_refused_password_stops_the_action_server(server: RedisServer, password: str) -> None:
    result = import_actions(server.url(password=password))
    assert result.returncode != 0 and "started" not in result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("bot.shared.config.ConfigError: REDIS_URL='redis://") and f"127.0.0.1:{server.port}/0'" in last
    assert server.password not in result.stderr and (not password or password not in result.stderr)


def test_the_right_password_lets_it_start(server: RedisServer) -> None:
    result = import_actions(server.url())
    assert result.returncode == 0 and "started" in result.stdout, result.stderr
