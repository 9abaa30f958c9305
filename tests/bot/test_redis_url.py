"""The web app's side of REDIS_URL: the settings check it at start (masked, production needs a password),
and every client of the app, the delivery worker and the bridge reaches a Redis that wants a password."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator

import pytest

from bot.chat.store import LanguageMemory, async_redis_from_env
from bot.health.checks import redis_and_delivery
from bot.settings import ConfigError, settings
from bot.staff import events
from bot.staff.auth import get_redis
from tests.conftest import ROOT
from tests.redis_server import RedisServer, redis_server

SECRET = "s3cr3t-Pa55"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_server(Path(tmp_path_factory.mktemp("redis"))) as started:
        yield started


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("REDIS_URL", "APP_ENV"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def run(code: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full, capture_output=True, text=True, timeout=120)


# --- settings ---------------------------------------------------------------------------------------------


def test_the_settings_check_redis_url_and_never_echo_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", f"http://:{SECRET}@127.0.0.1:6379/0")
    with pytest.raises(ConfigError) as refused:
        settings()
    assert "REDIS_URL='http://:***@127.0.0.1:6379/0': must start with redis://" in str(refused.value)
    assert SECRET not in str(refused.value)
    monkeypatch.setenv("REDIS_URL", f"redis://:{SECRET}@10.0.0.5:6390/3")
    assert settings().redis_connection_url == f"redis://:{SECRET}@10.0.0.5:6390/3"
    assert events.channel().endswith(":3")  # the console's pub/sub channel names the URL's database


def test_among_several_problems_the_url_is_still_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_RATE_PER_MINUTE", "x")
    monkeypatch.setenv("REDIS_URL", f"redis://:{SECRET}@h:1/zero")
    with pytest.raises(ConfigError) as refused:
        settings()
    message = str(refused.value)
    assert SECRET not in message and "REDIS_URL='redis://:***@h:1/zero'" in message and "CHAT_RATE_PER_MINUTE='x'" in message


def test_production_refuses_a_redis_without_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(ConfigError, match="REDIS_URL is empty; REDIS_HOST/PORT/DB give 'redis://"):
        settings()
    monkeypatch.setenv("REDIS_URL", "rediss://redis.internal:6380/0")
    with pytest.raises(ConfigError, match="no password, and APP_ENV=production refuses"):
        settings()
    monkeypatch.setenv("REDIS_URL", f"rediss://gzcp:{SECRET}@redis.internal:6380/0")
    assert settings().app_env == "production"


def test_without_redis_url_host_port_db_still_decide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_HOST", "10.1.1.1")
    monkeypatch.setenv("REDIS_PORT", "6391")
    monkeypatch.setenv("REDIS_DB", "2")
    assert settings().redis_connection_url == "redis://10.1.1.1:6391/2"
    assert get_redis().connection_pool.connection_kwargs["host"] == "10.1.1.1"


# --- against a Redis that wants a password ----------------------------------------------------------------


def test_every_app_client_reaches_redis_through_the_url(server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", server.url(db=4))
    client = get_redis()  # staff sessions, the outbox, limits
    client.set("gzcp:test:staff", "ok")
    assert client.get("gzcp:test:staff") == "ok"
    assert redis_and_delivery()["status"] == "up"  # /readyz

    async def chat_side() -> Dict[str, str]:
        store = async_redis_from_env()  # chat gateway, Telegram bridge, the console's live events
        memory = LanguageMemory(store, ttl_seconds=60)
        await memory.set("url-test", "zh")
        language = await memory.get("url-test")
        await memory.forget("url-test")
        await store.aclose()
        return {"language": language or ""}

    assert asyncio.run(chat_side()) == {"language": "zh"}
    assert server.admin().dbsize() == 0  # nothing landed in database 0: the URL's database was used


def test_tls_for_the_async_client(server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """rediss:// with the self-signed certificate checked, for the asyncio client."""
    if server.tls_port is None:
        pytest.skip(f"TLS case not run: {server.no_tls_reason}")
    monkeypatch.setenv("REDIS_URL", server.url(db=4, tls=True))

    async def ping() -> bool:
        store = async_redis_from_env()
        try:
            return bool(await store.ping())
        finally:
            await store.aclose()

    assert asyncio.run(ping())
    assert get_redis().ping()


@pytest.mark.parametrize("password", ["wrong-password", ""])
def test_the_app_the_worker_and_the_bridge_refuse_to_start_on_a_password_redis_refuses(server: RedisServer,
                                                                                      password: str) -> None:
    url = server.url(password=password)
    for code in ("import bot.main", "import sys; from bot.leads.delivery import main; sys.exit(main(['run']))",
                 "import sys; from bot.telegram.__main__ import main; sys.exit(main())"):
        result = run(code, REDIS_URL=url, INTAKE_API_KEY="k", TELEGRAM_BOT_TOKEN="123:fake", TELEGRAM_API_BASE_URL="http://127.0.0.1:9")
        assert result.returncode != 0, result.stdout
        assert f"REDIS_URL='redis://{':***@' if password else ''}127.0.0.1:{server.port}/0'" in result.stderr
        assert "Traceback" not in result.stderr  # one clear line
        output = result.stdout + result.stderr
        assert server.password not in output and (not password or password not in output)


def test_the_app_starts_with_the_right_password(server: RedisServer) -> None:
    result = run("import bot.main; print('started')", REDIS_URL=server.url())
    assert result.returncode == 0 and "started" in result.stdout, result.stderr
    assert server.password not in result.stdout + result.stderr
