"""One Redis URL for every client (bot.shared.redis_conn), on both interpreters: parsing, masking, the
production rule, and the shared client against a real Redis that wants a password (and over TLS)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import pytest
import redis

from bot.shared.config import ConfigError
from bot.shared.redis_conn import (
    check_credentials,
    env_for_db,
    mask_url,
    rasa_store_options,
    redis_from_env,
    redis_url,
    redis_url_problem,
    url_db,
    verify_at_start,
    with_db,
)
from tests.redis_server import RedisServer, free_port, redis_server

SECRET = "s3cr3t-Pa55"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_server(Path(tmp_path_factory.mktemp("redis"))) as started:
        yield started


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_DB", "APP_ENV"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def tls_or_skip(server: RedisServer) -> None:
    if server.tls_port is None:
        pytest.skip(f"TLS case not run: {server.no_tls_reason}")


# --- the URL as text ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"redis://:{SECRET}@10.0.0.5:6379/0", "redis://:***@10.0.0.5:6379/0"),
        (f"rediss://gzcp:{SECRET}@redis.internal:6380/2?ssl_cert_reqs=required",
         "rediss://gzcp:***@redis.internal:6380/2?ssl_cert_reqs=required"),
        (f"redis://{SECRET}@host:6379/0", "redis://***@host:6379/0"),  # a password in the user's place
        (f"redis://host:6379/0?password={SECRET}&db=1", "redis://host:6379/0?password=***&db=1"),
        (f"rediss://:{SECRET}@h:6380/0?ssl_password={SECRET}&ssl_keyfile=/k.pem",
         "rediss://:***@h:6380/0?ssl_password=***&ssl_keyfile=/k.pem"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        (f"redis://:{SECRET}@host:port/0", "redis://***"),  # unparseable: nothing of it but the scheme
    ],
)
def test_a_printed_url_never_shows_the_password(url: str, shown: str) -> None:
    assert mask_url(url) == shown and SECRET not in mask_url(url)


@pytest.mark.parametrize(
    ("url", "production", "expected"),
    [
        ("redis://127.0.0.1:6379/0", False, None),
        (f"redis://:{SECRET}@127.0.0.1:6379/0", True, None),
        (f"rediss://gzcp:{SECRET}@redis.internal:6380/0?ssl_cert_reqs=required", True, None),
        ("redis://127.0.0.1:6379/0", True, "APP_ENV=production refuses a Redis without one"),
        (f"http://:{SECRET}@127.0.0.1:6379/0", False, "must start with redis://, rediss:// (TLS) or unix://"),
        (f"redis://:{SECRET}@127.0.0.1:63a9/0", False, "REDIS_URL="),
        (f"redis://:{SECRET}@127.0.0.1:6379/zero", False, "the path must be the database number"),
        ("redis://gzcp@127.0.0.1:6379/0", False, "a user without a password"),
        (f"redis://:{SECRET}@:6379/0", False, "no host"),
    ],
)
def test_what_is_wrong_with_a_url_names_redis_url_and_hides_the_password(url: str, production: bool,
                                                                          expected: str) -> None:
    problem = redis_url_problem(url, production)
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and expected in problem and problem.startswith("REDIS_URL")
        assert SECRET not in problem


def test_redis_url_wins_and_host_port_db_remain_the_fallback(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("REDIS_HOST", "10.1.2.3")
    clean_env.setenv("REDIS_PORT", "6390")
    clean_env.setenv("REDIS_DB", "4")
    assert redis_url() == "redis://10.1.2.3:6390/4"
    clean_env.setenv("REDIS_URL", f"redis://:{SECRET}@10.9.9.9:6400/7")
    assert redis_url() == f"redis://:{SECRET}@10.9.9.9:6400/7"
    kwargs = redis_from_env().connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"]) == ("10.9.9.9", 6400, 7, SECRET)


def test_production_refuses_a_redis_without_password_at_the_first_client(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("APP_ENV", "production")
    with pytest.raises(ConfigError, match="REDIS_URL is empty; REDIS_HOST/PORT/DB give 'redis://127.0.0.1:6379/0'"):
        redis_from_env()
    clean_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    with pytest.raises(ConfigError, match="APP_ENV=production refuses"):
        redis_url()
    clean_env.setenv("REDIS_URL", f"redis://:{SECRET}@127.0.0.1:6379/0")
    assert redis_url().endswith("@127.0.0.1:6379/0")
    clean_env.setenv("REDIS_URL", f"ftp://:{SECRET}@127.0.0.1/0")
    with pytest.raises(ConfigError) as refused:
        redis_url()
    assert SECRET not in str(refused.value)


def test_another_database_of_the_same_redis() -> None:
    url = f"rediss://u:{SECRET}@h:6380/0?db=3&ssl_cert_reqs=required"
    assert with_db(url, 12) == f"rediss://u:{SECRET}@h:6380/12?ssl_cert_reqs=required" and url_db(with_db(url, 12)) == 12
    assert with_db("unix:///run/redis.sock?db=1", 5) == "unix:///run/redis.sock?db=5"
    assert env_for_db({"REDIS_URL": f"redis://:{SECRET}@h:1/0"}, 9) == {"REDIS_DB": "9", "REDIS_URL": f"redis://:{SECRET}@h:1/9"}
    assert env_for_db({}, 9) == {"REDIS_DB": "9", "REDIS_URL": ""}


def test_rasas_store_constructors_get_every_part_of_the_url() -> None:
    options = rasa_store_options(f"rediss://gzcp:{SECRET}@redis.internal:6380/3?ssl_ca_certs=/etc/ca.pem")
    assert options == {"host": "redis.internal", "port": 6380, "db": 3, "username": "gzcp", "password": SECRET,
                       "use_ssl": True, "ssl_keyfile": None, "ssl_certfile": None, "ssl_ca_certs": "/etc/ca.pem"}
    assert rasa_store_options("redis://127.0.0.1:6379/0")["use_ssl"] is False


# --- against a Redis that wants a password ----------------------------------------------------------------


def test_the_shared_client_works_through_redis_url_with_the_password(server: RedisServer,
                                                                    clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("REDIS_URL", server.url(db=3))
    client = redis_from_env()
    client.set("gzcp:test:url", "ok")
    assert client.get("gzcp:test:url") == "ok"
    direct = redis.Redis(host="127.0.0.1", port=server.port, password=server.password, db=3, decode_responses=True)
    assert direct.get("gzcp:test:url") == "ok"  # in the URL's database
    verify_at_start()  # answers: nothing raised


def test_an_acl_user_works_too(server: RedisServer, clean_env: pytest.MonkeyPatch) -> None:
    server.admin().acl_setuser("gzcp", enabled=True, passwords=["+user-pass"], keys=["*"], commands=["+@all"])
    clean_env.setenv("REDIS_URL", server.url(user="gzcp", password="user-pass"))
    assert redis_from_env().ping()
    assert redis_from_env().acl_whoami() == "gzcp"


@pytest.mark.parametrize("password", ["wrong-password", ""])
def test_a_wrong_or_missing_password_is_a_clear_error_naming_redis_url(server: RedisServer, password: str,
                                                                       clean_env: pytest.MonkeyPatch) -> None:
    url = server.url(password=password)
    with pytest.raises(ConfigError) as refused:
        check_credentials(url)
    message = str(refused.value)
    assert message.startswith(f"REDIS_URL='redis://{':***@' if password else ''}127.0.0.1:{server.port}/0'")
    assert ("Redis refused the password" if password else "Redis wants a password and the URL has none") in message
    assert (password or server.password) not in message and server.password not in message
    clean_env.setenv("REDIS_URL", url)
    with pytest.raises(ConfigError, match="REDIS_URL="):
        verify_at_start()


def test_a_redis_that_is_down_is_reported_not_refused(caplog: pytest.LogCaptureFixture) -> None:
    url = f"redis://:{SECRET}@127.0.0.1:{free_port()}/0"
    problem = check_credentials(url, timeout=0.5)
    assert problem is not None and "is not reachable now" in problem and SECRET not in problem
    caplog.set_level(logging.WARNING)
    verify_at_start(url)
    assert "not reachable" in caplog.text and SECRET not in caplog.text


def test_tls_with_the_certificate_checked(server: RedisServer, clean_env: pytest.MonkeyPatch) -> None:
    """rediss:// against the server's --tls-port with a self-signed certificate made by openssl."""
    tls_or_skip(server)
    clean_env.setenv("REDIS_URL", server.url(db=2, tls=True))
    client = redis_from_env()
    client.set("gzcp:test:tls", "ok")
    assert client.get("gzcp:test:tls") == "ok"
    untrusted = f"rediss://:{server.password}@127.0.0.1:{server.tls_port}/0?ssl_cert_reqs=required"
    problem = check_credentials(untrusted)  # the system's CAs do not know this certificate: refused
    assert problem is not None and server.password not in problem
    with pytest.raises(ConfigError, match="Redis refused the password"):
        check_credentials(server.url(password="wrong", tls=True))
