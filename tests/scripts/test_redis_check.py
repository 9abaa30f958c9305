"""scripts/ensure_redis.sh and scripts/redis_check.py: `make run`/`make test` check the Redis of REDIS_URL with
its credentials, and start a local one with the URL's password, never showing it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import pytest
import redis

from scripts.redis_check import local_config
from tests.conftest import ROOT
from tests.redis_server import RedisServer, free_port, redis_server

SECRET = 'pa"ss wo\\rd'  # quotes, a space and a backslash must survive redis.conf quoting


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_server(Path(tmp_path_factory.mktemp("redis")), tls=False) as started:
        yield started


def ensure(url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REDIS_URL": url}
    return subprocess.run(["bash", "scripts/ensure_redis.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_local_config_carries_the_password_or_the_acl_user() -> None:
    assert local_config("redis://:secret@127.0.0.1:7001/0") == [
        "port 7001", "bind 127.0.0.1", 'save ""', "appendonly no", 'requirepass "secret"']
    assert local_config("redis://gzcp:secret@localhost:7002/3")[-2:] == ['user "gzcp" on ">secret" ~* &* +@all',
                                                                        "user default off"]
    assert local_config("redis://10.0.0.5:6379/0") is None and local_config("rediss://:x@127.0.0.1:6380/0") is None


def test_a_reachable_redis_with_the_right_password(server: RedisServer) -> None:
    result = ensure(server.url())
    assert result.returncode == 0 and f"redis: reachable at redis://:***@127.0.0.1:{server.port}/0" in result.stdout
    assert server.password not in result.stdout + result.stderr


@pytest.mark.parametrize("password", ["wrong-password", ""])
def test_a_refused_password_is_an_error_and_no_second_server_is_started(server: RedisServer, password: str) -> None:
    result = ensure(server.url(password=password))
    assert result.returncode == 1 and "REDIS_URL=" in result.stderr and "starting" not in result.stdout
    assert server.password not in result.stdout + result.stderr and (not password or password not in result.stderr)


def test_a_local_redis_is_started_with_the_urls_password_kept_out_of_the_process_list() -> None:
    port = free_port()
    url = f"redis://:{quote(SECRET, safe='')}@127.0.0.1:{port}/0"
    result = ensure(url)
    try:
        assert result.returncode == 0, result.stderr
        assert f"starting a local server on 127.0.0.1:{port}" in result.stdout and "redis: up" in result.stdout
        processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        assert SECRET not in processes and SECRET not in result.stdout + result.stderr
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port).ping()
        assert redis.Redis(port=port, password=SECRET).ping()
    finally:
        try:
            redis.Redis(port=port, password=SECRET).shutdown(nosave=True)
        except redis.RedisError:
            pass  # the shutdown closes the connection under us
