"""One outbox job as stored in Redis (JSON), and how a stored job is read back without trusting it.

A job in Redis was written by some version of the action server, or by hand: it may not be JSON, may miss a
field, hold a field of the wrong type, or carry a field a newer writer added. Reading never raises anything but
BadJob, whose message names the problem and never a value (jobs hold names, emails and phone numbers):

- an unknown field is kept (`extra`) and written back unchanged, so a newer writer's job survives a retry by
  an older worker;
- anything else that keeps a job from being delivered as it is (not JSON, not an object, a required field
  missing or of the wrong type, a kind this code does not know) is BadJob: the worker dead-letters it with
  that reason and goes on with the next job.

Plain Python for both runtimes (Python 3.10, standard library only).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Union

from bot.shared.intake import JOB_KINDS

KINDS = JOB_KINDS
# Marks a dead-letter entry that holds a job this code could not read: the original is kept under it (as text,
# or in base64 when it is not UTF-8, so revive puts back exactly what came).
UNREADABLE = "unreadable"
UNREADABLE_B64 = "unreadable_base64"
Raw = Union[str, bytes]


class BadJob(ValueError):
    """A stored job that cannot be delivered as it is; the message is safe to log (no values)."""


@dataclass
class Job:
    id: str
    kind: str
    conversation_id: str
    body: Optional[Dict[str, Any]] = None
    created_at: float = field(default_factory=time.time)
    attempts: int = 0
    last_error: str = ""
    next_attempt_at: float = 0.0
    worker_errors: int = 0  # unexpected failures of the worker on this job (after a few, it is dead-lettered)
    extra: Dict[str, Any] = field(default_factory=dict, repr=False)  # fields a newer writer added: kept as they are
    problem: str = field(default="", repr=False)  # set only on jobs read leniently for people (see `lenient`)

    def to_json(self) -> str:
        known = {name: getattr(self, name) for name in _FIELDS}
        return json.dumps({**self.extra, **known}, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: Raw, job_id: Optional[str] = None) -> Job:
        """The job stored as `raw` (its id is the hash field `job_id` when given). Raises BadJob."""
        data = _object(raw)
        if data.get(UNREADABLE) is not None or data.get(UNREADABLE_B64) is not None:
            raise BadJob(str(data.get("last_error") or "unreadable job"))
        values: Dict[str, Any] = {}
        for name, (kinds, required) in _FIELDS.items():
            if name not in data or data[name] is None:
                if required:
                    raise BadJob(f"missing field {name!r}")
                continue
            value = data[name]
            if not _is(value, kinds):
                raise BadJob(f"field {name!r} is not {_NAMES[kinds]}")
            values[name] = value
        if job_id is not None:
            values["id"] = job_id  # the hash field is where the job lives; the copy inside follows it
        if not values.get("id"):
            raise BadJob("missing field 'id'")
        if values["kind"] not in KINDS:
            raise BadJob("unknown kind (written by a newer version?)")
        if not values["conversation_id"]:
            raise BadJob("empty field 'conversation_id'")
        if values["kind"] != "erase" and values.get("body") is None:
            raise BadJob(f"a {values['kind']} job without a body")
        extra = {k: v for k, v in data.items() if k not in _FIELDS}
        return cls(**values, extra=extra)

    @classmethod
    def lenient(cls, raw: Raw, job_id: str) -> Job:
        """For listings and figures: the job, or what can be read of it with `problem` saying why it is unusable."""
        try:
            return cls.from_json(raw, job_id)
        except BadJob as error:
            problem = str(error)
        try:
            data = _object(raw)
        except BadJob:
            data = {}

        def pick(name: str, kinds: Any, default: Any) -> Any:
            value = data.get(name)
            return value if _is(value, kinds) else default

        return cls(
            id=job_id,
            kind=pick("kind", str, "unknown"),
            conversation_id=pick("conversation_id", str, ""),
            created_at=float(pick("created_at", _NUMBER, 0.0)),
            attempts=pick("attempts", int, 0),
            last_error=pick("last_error", str, "") or f"unreadable job: {problem}",
            problem=problem,
        )


def unreadable_entry(raw: Raw, job_id: str, reason: str) -> str:
    """The dead-letter entry for a job that could not be read: what can be read of it, the reason, and the
    original text (revive puts that back as it was, e.g. once a newer worker that reads it is deployed)."""
    seen = Job.lenient(raw, job_id)
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8")
    try:
        kept = {UNREADABLE: data.decode("utf-8")}
    except UnicodeDecodeError:
        kept = {UNREADABLE_B64: base64.b64encode(data).decode("ascii")}
    return json.dumps({
        "id": job_id, "kind": seen.kind, "conversation_id": seen.conversation_id,
        "created_at": seen.created_at or time.time(), "attempts": seen.attempts,
        "last_error": f"unreadable job: {reason}", **kept,
    }, ensure_ascii=False, separators=(",", ":"))


def original(entry: Raw) -> Optional[bytes]:
    """The original kept in a dead-letter entry for an unreadable job, else None."""
    try:
        data = _object(entry)
    except BadJob:
        return None
    text, b64 = data.get(UNREADABLE), data.get(UNREADABLE_B64)
    if isinstance(text, str):
        return text.encode("utf-8")
    try:
        return base64.b64decode(b64, validate=True) if isinstance(b64, str) else None
    except (binascii.Error, ValueError):
        return None


def _object(raw: Raw) -> Dict[str, Any]:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError, TypeError):
        raise BadJob("not JSON") from None
    if not isinstance(data, dict):
        raise BadJob("not a JSON object")
    return data


_NUMBER = (int, float)
# name -> (accepted types, required). `id` is required but may come from the hash field instead.
_FIELDS: Dict[str, Any] = {
    "id": (str, False),
    "kind": (str, True),
    "conversation_id": (str, True),
    "body": (dict, False),
    "created_at": (_NUMBER, True),
    "attempts": (int, False),
    "last_error": (str, False),
    "next_attempt_at": (_NUMBER, False),
    "worker_errors": (int, False),
}
_NAMES = {str: "a string", dict: "an object", _NUMBER: "a number", int: "a whole number"}


def _is(value: Any, kinds: Any) -> bool:
    return isinstance(value, kinds) and not isinstance(value, bool)  # JSON true is not a number here
