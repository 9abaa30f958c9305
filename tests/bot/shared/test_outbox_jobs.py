"""Reading a stored outbox job without trusting it (both runtimes: the action server writes, the worker reads)."""

from __future__ import annotations

import json

import pytest

from bot.shared.outbox_jobs import BadJob, Job, original, unreadable_entry

GOOD = {"id": "lead-1", "kind": "lead", "conversation_id": "c1", "body": {"kind": "lead"}, "created_at": 1.5}


def test_a_job_round_trips_and_keeps_fields_a_newer_writer_added() -> None:
    job = Job.from_json(json.dumps({**GOOD, "priority": "high", "attempts": 2}))
    assert (job.id, job.kind, job.attempts, job.extra) == ("lead-1", "lead", 2, {"priority": "high"})
    again = json.loads(job.to_json())
    assert again["priority"] == "high" and again["attempts"] == 2 and "extra" not in again and "problem" not in again


def test_the_hash_field_is_the_jobs_id() -> None:
    assert Job.from_json(json.dumps({**GOOD, "id": "other"}), "lead-1").id == "lead-1"
    assert Job.from_json(json.dumps({k: v for k, v in GOOD.items() if k != "id"}), "lead-1").id == "lead-1"


@pytest.mark.parametrize("raw, reason", [
    ("nope", "not JSON"),
    (b"\xff", "not JSON"),
    ("3", "not a JSON object"),
    (json.dumps({**GOOD, "created_at": True}), "field 'created_at' is not a number"),
    (json.dumps({**GOOD, "conversation_id": ""}), "empty field 'conversation_id'"),
    (json.dumps({**GOOD, "last_error": 5}), "field 'last_error' is not a string"),
    (json.dumps({**GOOD, "kind": "erase", "body": None}), None),  # an erasure needs no body
])
def test_a_job_that_cannot_be_delivered_is_badjob_with_a_reason(raw: object, reason: object) -> None:
    if reason is None:
        assert Job.from_json(raw, "e-1").kind == "erase"  # type: ignore[arg-type]
        return
    with pytest.raises(BadJob, match=str(reason)):
        Job.from_json(raw, "x")  # type: ignore[arg-type]


def test_lenient_reading_shows_what_can_be_read_and_why_it_is_unusable() -> None:
    job = Job.lenient(json.dumps({"kind": "lead", "conversation_id": "c1", "created_at": "soon"}), "x")
    assert (job.kind, job.conversation_id, job.created_at) == ("lead", "c1", 0.0)
    assert job.problem == "field 'created_at' is not a number" and job.last_error.startswith("unreadable job")
    assert Job.lenient(b"\x00\xff", "y").kind == "unknown"


@pytest.mark.parametrize("raw", ["{not json", b"\xff\xfe\x00", json.dumps({"kind": "survey"})])
def test_a_dead_letter_entry_keeps_the_original_exactly(raw: object) -> None:
    entry = unreadable_entry(raw, "x", "not JSON")  # type: ignore[arg-type]
    assert original(entry) == (raw if isinstance(raw, bytes) else raw.encode())  # type: ignore[union-attr]
    with pytest.raises(BadJob, match="unreadable job: not JSON"):
        Job.from_json(entry, "x")
    assert original(json.dumps(GOOD)) is None and original("garbage") is None
