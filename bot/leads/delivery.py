"""The delivery worker: takes jobs from the Redis outbox to the intake API until each is stored.

    python -m bot.leads.delivery run        # started by `make run`
    python -m bot.leads.delivery status     # queue figures, jobs waiting and jobs the intake refused
    python -m bot.leads.delivery revive ID  # retry a refused job after fixing its cause

Retries back off exponentially (1 s doubling to 5 min, with jitter) and always send the job's own
Idempotency-Key, so a lead that reached the intake before a timeout is not stored twice. A job the intake
refuses for good (a 4xx other than 401/403/408/429) is kept in the outbox's `dead` set and shown by
`status` and the intake's /api/leads/outbox, never dropped.

One bad job never stops the worker: a job it cannot read (not JSON, a field missing or of the wrong type, a
kind it does not know) is dead-lettered with the reason; a 2xx answer that is not the intake's JSON is retried
(the same Idempotency-Key makes that safe); any other exception while handling a job is retried, and after
MAX_WORKER_ERRORS of them the job is dead-lettered; an exception outside any job pauses the loop, never ends it.
Logs and stored reasons name the kind of failure, never a job's contents.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import socket
import sys
import threading
import time
import traceback
from typing import Any, Dict, Optional

import httpx
import redis

from bot.metrics import delivery as metrics
from bot.settings import settings
from bot.shared import logs
from bot.shared.config import ConfigError
from bot.shared.erasure import forget_conversation
from bot.shared.outbox import Claimed, Job, Outbox, Unreadable
from bot.shared.redis_conn import KEY_PREFIX, conversation_keys, redis_from_env, verify_at_start
from bot.shared.secrets import refuse_development_secrets

logger = logging.getLogger("bot.leads.delivery")

MAX_BACKOFF_SECONDS = 300.0
RETRYABLE_4XX = {401, 403, 404, 408, 409, 425, 429}  # configuration or load problems that a later try may not meet
LOCK_WAIT_SECONDS = 20.0
MAX_WORKER_ERRORS = 5  # unexpected exceptions on one job before it is dead-lettered (a bug, not a passing fault)
LOOP_ERROR_PAUSE_SECONDS = 2.0


class BadAnswer(Exception):
    """The intake answered 2xx with something that is not its JSON (a proxy's page, a truncated body...)."""


def backoff(attempts: int) -> float:
    """1, 2, 4 ... 300 s, each shortened by up to half at random so retries of many jobs spread out."""
    delay = min(MAX_BACKOFF_SECONDS, 2.0 ** attempts)
    return delay * random.uniform(0.5, 1.0)


class Delivery:
    def __init__(self, outbox: Outbox, http: httpx.Client, intake_url: str, api_key: str,
                 tracker_prefix: str = KEY_PREFIX, admin_key: str = "") -> None:
        self.outbox = outbox
        self.http = http
        self.intake_url = intake_url.rstrip("/")
        self.headers = {"X-API-Key": api_key}  # scope "create" (bot.leads.access)
        self.admin_headers = {"X-API-Key": admin_key or api_key}  # scope "read/erase", for erasures
        self.tracker_prefix = tracker_prefix

    def run(self, stop: threading.Event, idle_wait: float = 1.0) -> None:
        logger.info("delivery worker started (intake %s)", self.intake_url)
        worker = f"{socket.gethostname()}-{os.getpid()}"
        while not stop.is_set():
            try:
                self.outbox.heartbeat(worker)
                if self.deliver_due() == 0:
                    self.outbox.wait_for_work(idle_wait)
            except redis.RedisError as error:
                logger.warning("outbox unreachable (%s); retrying in 2 s", error.__class__.__name__)
                stop.wait(2.0)
            except Exception as error:  # a bug outside any one job: claimed jobs come back when their lease ends
                logger.error("delivery loop error (%s); going on in %.0f s", _where(error), LOOP_ERROR_PAUSE_SECONDS)
                stop.wait(LOOP_ERROR_PAUSE_SECONDS)
        logger.info("delivery worker stopped")

    def deliver_due(self, limit: int = 20) -> int:
        jobs = self.outbox.claim(limit)
        for job in jobs:
            self.handle(job)
        return len(jobs)

    def handle(self, item: Claimed) -> None:
        """Deliver one job; whatever goes wrong with it stays with it (retried or dead-lettered)."""
        if isinstance(item, Unreadable):
            self._bury_unreadable(item)
            return
        job = item
        try:
            if job.kind == "erase":
                self._erase(job)
            else:
                self._deliver(job)
        except httpx.HTTPError as error:
            self._retry(job, f"{error.__class__.__name__}: intake unreachable")
        except BadAnswer as error:
            self._retry(job, f"bad answer: {error}")
        except redis.RedisError:
            raise  # the outbox itself: the loop waits for Redis, the job's lease brings it back
        except Exception as error:
            self._worker_error(job, error)

    def _bury_unreadable(self, item: Unreadable) -> None:
        logger.error("job %s cannot be read (%s), kept in the dead-letter set", logs.mask(item.id), item.reason)
        self.outbox.bury_unreadable(item)
        metrics.unreadable(self.outbox)

    def _worker_error(self, job: Job, error: Exception) -> None:
        job.worker_errors += 1
        reason = f"worker error: {_where(error)}"
        if job.worker_errors >= MAX_WORKER_ERRORS:
            logger.error("job %s (%s) failed the worker %d times, kept in the dead-letter set: %s",
                         job.id, job.kind, job.worker_errors, reason)
            self.outbox.bury(job, reason)
            metrics.finished(self.outbox, job, "failed")
            return
        self._retry(job, reason)

    def _retry(self, job: Job, error: str) -> None:
        delay = backoff(job.attempts)
        logger.warning("job %s (%s) failed, attempt %d: %s; next try in %.0f s",
                       job.id, job.kind, job.attempts + 1, error, delay)
        self.outbox.retry(job, error, delay)
        metrics.retried(self.outbox, job, error)  # gzcp_delivery_retries_total (shared via Redis)

    def _deliver(self, job: Job) -> None:
        erased = self.outbox.erased_at(job.conversation_id)
        if erased is not None and job.created_at <= erased:
            logger.info("job %s dropped: its conversation was erased on request", job.id)
            self.outbox.done(job)
            metrics.finished(self.outbox, job, "dropped")
            return
        response = self.http.post(f"{self.intake_url}/api/leads", json=job.body,
                                  headers={**self.headers, "Idempotency-Key": job.id})
        if response.status_code in (200, 201):
            lead_id = _json_field(response, "id", str)
            logger.info("job %s delivered as lead %s%s", job.id, lead_id,
                        " (replay)" if response.status_code == 200 else "")
            self.outbox.done(job)
            metrics.finished(self.outbox, job, "replayed" if response.status_code == 200 else "delivered")
            # An erasure may have come in while this post was in flight: honour it now.
            erased = self.outbox.erased_at(job.conversation_id)
            if erased is not None and erased >= job.created_at:
                self.outbox.put("erase", job.conversation_id, {"phase": "intake", "intake_only": True})
            return
        detail = _detail(response)
        if response.status_code >= 500 or response.status_code in RETRYABLE_4XX:
            self._retry(job, f"HTTP {response.status_code}: {detail}")
        else:
            logger.error("job %s refused by the intake (HTTP %d), kept in the dead-letter set: %s",
                         job.id, response.status_code, detail)
            self.outbox.bury(job, f"HTTP {response.status_code}: {detail}")
            metrics.finished(self.outbox, job, "refused")

    def _erase(self, job: Job) -> None:
        phase = (job.body or {}).get("phase", "intake")
        if phase == "intake":
            response = self.http.delete(f"{self.intake_url}/api/leads", params={"conversation_id": job.conversation_id},
                                        headers=self.admin_headers)
            if response.status_code != 200:
                self._retry(job, f"HTTP {response.status_code}: {_detail(response)}")
                return
            deleted = _json_field(response, "deleted", int)
            # Tell the waiting action now; the conversation itself can only go once its turn has ended.
            self.outbox.report(job.id, {"deleted": deleted})
            if (job.body or {}).get("intake_only"):
                self.outbox.done(job)
                metrics.finished(self.outbox, job, "erased")
                return
            job.body = {"phase": "tracker", "deleted": deleted}
        if not self._erase_conversation(job.conversation_id):
            self._retry(job, "conversation still in use; erasing its history later")
            return
        logger.info("conversation erased on request (%s record(s) deleted)", (job.body or {}).get("deleted", 0))
        self.outbox.done(job)
        metrics.finished(self.outbox, job, "erased")

    def _erase_conversation(self, conversation_id: str) -> bool:
        """Delete the Rasa tracker once Rasa has finished the turn (no ticket left in its lock)."""
        keys = conversation_keys(conversation_id, self.tracker_prefix)
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while self.outbox.redis.exists(keys.lock_queue):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        # The channel's remembered language and buttons go with the tracker: Rasa starts over in its default, and
        # so does the channel, so a button pressed next is not answered in a language the tracker no longer has.
        forget_conversation(self.outbox.redis, conversation_id, self.tracker_prefix)
        return True


def _json_field(response: httpx.Response, name: str, kind: Any) -> Any:
    """A field of the intake's JSON answer; BadAnswer when the answer is not that (the job is retried)."""
    try:
        body: Dict[str, Any] = response.json()
    except ValueError:  # not JSON, or not UTF-8
        raise BadAnswer(f"HTTP {response.status_code} that is not JSON") from None
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BadAnswer(f"HTTP {response.status_code} without {name!r}")
    return value


def _where(error: BaseException) -> str:
    """An exception's type and the innermost line it came from: enough to find the bug, and no message (a
    message may quote a job's contents)."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return type(error).__name__
    last = frames[-1]
    return f"{type(error).__name__} at {os.path.basename(last.filename)}:{last.lineno}"


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):  # pydantic errors: where and what, not the input (it may hold contact details)
        return "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg', '')}"
                         for d in detail if isinstance(d, dict))[:1000]
    return str(detail)[:1000]


def _delivery_from_env() -> Delivery:
    http = httpx.Client(timeout=httpx.Timeout(10.0, connect=3.0))
    return Delivery(
        Outbox(redis_from_env()),
        http,
        intake_url=settings().intake_url,
        api_key=settings().intake_api_key,
        admin_key=settings().intake_admin_key,
    )


def _status(outbox: Outbox) -> int:
    print(json.dumps(outbox.stats(), indent=2))
    for title, jobs in (("waiting", outbox.pending()), ("refused by the intake (kept)", outbox.dead())):
        print(f"\n{title}: {len(jobs)}")
        for job in jobs:
            print(f"  {job.id}  {job.kind:7}  attempts={job.attempts}  "
                  f"created={time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(job.created_at))}Z  {logs.mask(job.last_error)}")
    return 0


def main(argv: Optional[list] = None) -> int:
    logs.install()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    parser = argparse.ArgumentParser(prog="python -m bot.leads.delivery", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="deliver jobs until stopped")
    sub.add_parser("status", help="print queue figures and the jobs waiting or refused")
    revive = sub.add_parser("revive", help="queue a refused job again")
    revive.add_argument("job_id")
    args = parser.parse_args(argv)
    try:
        verify_at_start()
    except ConfigError as error:  # a Redis URL or password to fix: one line naming REDIS_URL, not a traceback
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.command == "status":
        return _status(Outbox(redis_from_env()))
    if args.command == "revive":
        ok = Outbox(redis_from_env()).revive(args.job_id)
        print("queued again" if ok else "no refused job with that id")
        return 0 if ok else 1
    refuse_development_secrets("delivery worker")
    if not settings().intake_api_key:
        print("error: INTAKE_API_KEY is not set; the worker cannot post to the intake", file=sys.stderr)
        return 2
    if not settings().intake_admin_key:
        logger.warning("INTAKE_ADMIN_KEY is not set: erasures will wait until it is")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    _delivery_from_env().run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
