"""One asyncio lock per conversation, so one user's messages go to Rasa one at a time and in order.

Across processes and Rasa replicas, Rasa's Redis lock store keeps the order (tickets in arrival order);
this lock keeps a process from sending a user's next message before the previous one was answered.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Hashable


class KeyedLocks:
    def __init__(self, bound: int = 10000) -> None:
        self._locks: OrderedDict[Hashable, asyncio.Lock] = OrderedDict()
        self.bound = bound

    def __call__(self, key: Hashable) -> asyncio.Lock:
        lock = self._locks.pop(key, None) or asyncio.Lock()
        self._locks[key] = lock  # most recent last; forget idle conversations beyond the bound
        while len(self._locks) > self.bound:
            oldest, old = next(iter(self._locks.items()))
            if old.locked():
                break
            del self._locks[oldest]
        return lock
