"""Rasa's tracker and lock stores (rasa_addons) through REDIS_URL, against a Redis that wants a password, as
Rasa builds them from endpoints.yml (`url: ${REDIS_URL}`) and directly; over TLS too."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Iterator

import pytest
from rasa.core.lock_store import LockStore
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.shared.config import ConfigError
from rasa_addons.lock_store import LeasedRedisLockStore
from rasa_addons.store_health import inspect
from rasa_addons.tracker_store import FencedRedisTrackerStore
from tests.conftest import ROOT
from tests.redis_server import RedisServer, redis_server

PREFIX = "gzcpurltest"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_server(Path(tmp_path_factory.mktemp("redis"))) as started:
        yield started


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_DB", "APP_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRACKER_TTL_SECONDS", "600")


class Agent:
    def __init__(self, tracker_store: FencedRedisTrackerStore, lock_store: LeasedRedisLockStore) -> None:
        self.tracker_store, self.lock_store = tracker_store, lock_store

    def is_ready(self) -> bool:
        return True


def round_trip(tracker_store: FencedRedisTrackerStore, lock_store: LeasedRedisLockStore, sender: str) -> None:
    """Save a tracker inside a conversation lock (a fenced save), read it back."""

    async def turn() -> DialogueStateTracker:
        async with lock_store.lock(sender):
            tracker = DialogueStateTracker(sender, [])
            tracker.update(UserUttered("hello", message_id="m-1"))
            await tracker_store.save(tracker)
        stored = await tracker_store.retrieve(sender)
        assert stored is not None
        return stored

    stored = asyncio.run(turn())
    assert [e.text for e in stored.events if isinstance(e, UserUttered)] == ["hello"]
    assert tracker_store.turn_stored(sender, "m-1")
    assert not lock_store.is_someone_waiting(sender)  # the lock was taken and given back


def test_endpoints_yml_builds_both_stores_from_redis_url_with_the_password(server: RedisServer,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", server.url(db=5))
    endpoints = AvailableEndpoints.read_endpoints(str(ROOT / "endpoints.yml"))
    tracker_store = TrackerStore.create(endpoints.tracker_store, Domain.empty())
    lock_store = LockStore.create(endpoints.lock_store)
    assert isinstance(tracker_store, FencedRedisTrackerStore) and isinstance(lock_store, LeasedRedisLockStore)
    for store in (tracker_store, lock_store):
        kwargs = store.red.connection_pool.connection_kwargs
        assert (kwargs["port"], kwargs["db"], kwargs["password"]) == (server.port, 5, server.password)
    round_trip(tracker_store, lock_store, "endpoints-user")
    health = inspect(Agent(tracker_store, lock_store))
    assert health.tracker_store_reachable and health.lock_store_reachable


def test_the_store_classes_directly_and_rasas_constructor_gets_the_parsed_url(server: RedisServer) -> None:
    url = server.url(db=6)
    tracker_store = FencedRedisTrackerStore(Domain.empty(), host=url, key_prefix=PREFIX)
    lock_store = LeasedRedisLockStore(host=url, key_prefix=PREFIX)
    round_trip(tracker_store, lock_store, "direct-user")
    assert tracker_store.red.lrange(f"{PREFIX}:tracker:direct-user", 0, -1)  # in the URL's database, under our prefix


def test_empty_url_means_the_environments_redis_url(server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", server.url(db=7))
    tracker_store = FencedRedisTrackerStore(Domain.empty(), host="", key_prefix=PREFIX)
    lock_store = LeasedRedisLockStore(host=None, key_prefix=PREFIX)
    round_trip(tracker_store, lock_store, "env-user")
    assert lock_store.red.connection_pool.connection_kwargs["db"] == 7


def test_rasas_separate_keys_still_work(server: RedisServer) -> None:
    """endpoints.yml as Rasa documents it: a host name with port, db and password keys."""
    tracker_store = FencedRedisTrackerStore(Domain.empty(), host="127.0.0.1", port=str(server.port), db="8",
                                            password=server.password, key_prefix=PREFIX)
    lock_store = LeasedRedisLockStore(host="127.0.0.1", port=server.port, db=8, password=server.password,
                                      key_prefix=PREFIX)
    round_trip(tracker_store, lock_store, "keys-user")


@pytest.mark.parametrize("password", ["wrong-password", ""])
def test_rasa_does_not_start_on_a_wrong_or_missing_password(server: RedisServer, password: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", server.url(password=password))
    endpoints = AvailableEndpoints.read_endpoints(str(ROOT / "endpoints.yml"))
    for create in (lambda: TrackerStore.create(endpoints.tracker_store, Domain.empty()),
                   lambda: LockStore.create(endpoints.lock_store)):
        with pytest.raises(ConfigError) as refused:
            create()
        message = str(refused.value)
        assert message.startswith("REDIS_URL=") and f"127.0.0.1:{server.port}/0" in message
        assert server.password not in message and (not password or password not in message)


def test_production_refuses_a_url_without_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(ConfigError, match="APP_ENV=production refuses"):
        LeasedRedisLockStore(host="redis://127.0.0.1:6379/0")
    with pytest.raises(ConfigError, match="APP_ENV=production refuses"):
        FencedRedisTrackerStore(Domain.empty(), host="127.0.0.1", port=6379, db=0)


def test_both_stores_over_tls(server: RedisServer) -> None:
    """rediss:// with the self-signed certificate checked; the health probe keeps to TLS as well."""
    if server.tls_port is None:
        pytest.skip(f"TLS case not run: {server.no_tls_reason}")
    url = server.url(db=9, tls=True)
    tracker_store = FencedRedisTrackerStore(Domain.empty(), host=url, key_prefix=PREFIX)
    lock_store = LeasedRedisLockStore(host=url, key_prefix=PREFIX)
    assert tracker_store.red.connection_pool.connection_kwargs["port"] == server.tls_port
    round_trip(tracker_store, lock_store, "tls-user")
    health = inspect(Agent(tracker_store, lock_store))
    assert health.tracker_store_reachable and health.lock_store_reachable and health.ready
