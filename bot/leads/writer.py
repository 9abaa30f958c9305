"""Group commit for the intake: leads that arrive while the database is busy are stored together, by one worker
thread in one transaction, instead of one thread hop and one commit (one fsync) each.

The route prepares a lead (validation, assessment) on the event loop and awaits `GroupCommit.store`. The first
lead of an idle writer is written at once; those that arrive meanwhile wait for that commit and go in the next
group. Each request still answers only after its own row is committed, so a 201 means stored, as before; a
retried Idempotency-Key in a group makes the service store that group's leads one by one (bot.leads.service
store_all). `make bench` (intake) measures the gain.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import List, Tuple, Union

from anyio import to_thread
from sqlalchemy.orm import Session, sessionmaker

from bot.leads import service
from bot.leads.models import NewLead

MAX_GROUP = 100  # a bound on one transaction's size; a group this large means the database is far behind

Pending = Tuple[NewLead, "asyncio.Future[service.Stored]"]


class _Queue:
    """The leads waiting on one event loop (futures belong to their loop), and whether a flush is running."""

    def __init__(self) -> None:
        self.waiting: List[Pending] = []
        self.flushing = False


class GroupCommit:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = weakref.WeakKeyDictionary()

    async def store(self, lead: NewLead) -> service.Stored:
        """Store a prepared lead (service.prepare); raises what the service raises for it alone."""
        loop = asyncio.get_running_loop()
        queue = self._queues.setdefault(loop, _Queue())
        done: asyncio.Future[service.Stored] = loop.create_future()
        queue.waiting.append((lead, done))
        if not queue.flushing:
            queue.flushing = True
            # Its own task: a request that is cancelled (the client left) never stops the others' group.
            loop.create_task(self._flush(queue))
        return await done

    async def _flush(self, queue: _Queue) -> None:
        try:
            while queue.waiting:
                group, queue.waiting = queue.waiting[:MAX_GROUP], queue.waiting[MAX_GROUP:]
                try:
                    outcomes = await to_thread.run_sync(self._write, [lead for lead, _ in group])
                except Exception as error:  # noqa: BLE001  (e.g. the database is down: every waiting request hears it)
                    outcomes = [error] * len(group)
                for (_, done), outcome in zip(group, outcomes, strict=True):
                    if done.done():
                        continue
                    if isinstance(outcome, Exception):
                        done.set_exception(outcome)
                    else:
                        done.set_result(outcome)
        finally:
            queue.flushing = False

    def _write(self, leads: List[NewLead]) -> List[Union[service.Stored, Exception]]:
        with self._sessions() as session:
            return service.store_all(session, leads)


_writers: weakref.WeakKeyDictionary[sessionmaker[Session], GroupCommit] = weakref.WeakKeyDictionary()


def for_sessions(sessions: sessionmaker[Session]) -> GroupCommit:
    """The one writer of a session factory (so one app, or one test's database, has one group at a time)."""
    writer = _writers.get(sessions)
    if writer is None:
        writer = _writers[sessions] = GroupCommit(sessions)
    return writer
