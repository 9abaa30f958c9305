"""Counts pending in this process (bot.shared.metrics.Pending): summed per field, written once, and kept when
Redis cannot take them (real Redis, a key prefix of its own)."""

from __future__ import annotations

import os
import uuid

import redis

from bot.shared.metrics import Pending, metrics_key


def test_pending_counts_are_summed_written_once_and_kept_while_redis_is_away() -> None:
    client = redis.Redis(host=os.environ.get("REDIS_HOST", "127.0.0.1"), port=int(os.environ.get("REDIS_PORT", "6379")),
                         db=int(os.environ.get("TEST_REDIS_DB", "15")), decode_responses=True)
    down = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)  # nothing listens there
    prefix = f"gzcptest{uuid.uuid4().hex[:8]}"
    pending = Pending()
    try:
        pending.add([("gzcp_a|x=1", 1), ("gzcp_b_sum|x=1", 0.25)])
        pending.add([("gzcp_a|x=1", 2), ("gzcp_b_sum|x=1", 0.5)])
        pending.write(down, prefix)  # refused: nothing lost
        pending.write(None, prefix)  # no client: nothing lost
        pending.write(client, prefix)
        pending.write(client, prefix)  # nothing left: nothing written twice
        assert client.hgetall(metrics_key(prefix)) == {"gzcp_a|x=1": "3", "gzcp_b_sum|x=1": "0.75"}
        assert pending.take() == []
    finally:
        client.delete(metrics_key(prefix))
        client.close()
