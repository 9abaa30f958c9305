"""One way to reach the project's Redis (REDIS_HOST/PORT/DB), for the action server and the web app alike.

Plain Python that runs on Rasa's 3.10 and the app's 3.11: only redis-py and the standard library.
"""

from __future__ import annotations

import os

import redis

KEY_PREFIX = "gzcp"  # every key this project writes starts with it (endpoints.yml uses the same for Rasa)


def redis_from_env(**kwargs: object) -> redis.Redis:
    """A client for REDIS_HOST:REDIS_PORT/REDIS_DB; short timeouts so a dead Redis fails fast, not silently."""
    options: dict = {
        "host": os.environ.get("REDIS_HOST", "127.0.0.1"),
        "port": int(os.environ.get("REDIS_PORT", "6379")),
        "db": int(os.environ.get("REDIS_DB", "0")),
        "socket_timeout": 3.0,
        "socket_connect_timeout": 2.0,
        "decode_responses": True,
    }
    options.update(kwargs)
    return redis.Redis(**options)  # type: ignore[arg-type]
