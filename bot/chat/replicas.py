"""Which Rasa replica serves a conversation: rendezvous hashing over RASA_URLS, with short cool-downs.

Every replica shares the Redis tracker and lock stores, so any of them can serve any conversation; a
stable choice per sender keeps a conversation's turns on one process (warm caches, one lock holder at
a time) and spreads senders evenly. A replica that refuses connections is skipped for a few seconds.
Plain Python: the web app and the Telegram bridge both use it.
"""

from __future__ import annotations

import hashlib
import time
from typing import Callable, Dict, List, Sequence

COOL_DOWN_SECONDS = 5.0


class Replicas:
    def __init__(self, urls: Sequence[str], clock: Callable[[], float] = time.monotonic) -> None:
        if not urls:
            raise ValueError("at least one Rasa URL is needed")
        self.urls = [u.rstrip("/") for u in urls]
        self._down_until: Dict[str, float] = {}
        self._clock = clock

    def order(self, sender: str) -> List[str]:
        """All replicas for this sender, best first: its own by hash, replicas in a cool-down last."""
        now = self._clock()

        def score(url: str) -> tuple:
            cooling = self._down_until.get(url, 0.0) > now
            weight = hashlib.blake2b(f"{url}|{sender}".encode(), digest_size=8).digest()
            return (cooling, -int.from_bytes(weight, "big"))

        return sorted(self.urls, key=score)

    def mark_down(self, url: str) -> None:
        self._down_until[url] = self._clock() + COOL_DOWN_SECONDS

    def mark_up(self, url: str) -> None:
        self._down_until.pop(url, None)
