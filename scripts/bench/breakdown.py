"""Where a message's time goes: a turn's own timeline, and parts of a turn timed one by one.

Timeline (`timeline`): a few conversations sent one message at a time; Rasa stamps each event it logs with
the time (same clock as ours, same machine), so each turn splits into
- `receive_parse`: request sent → user event logged: HTTP, the lock, reading the tracker, NLU;
- `actions`: → the last action before listening: predicting and running the actions (for a custom action:
  building the call, the action server, checking its answer);
- `last_prediction`: → action_listen logged: predicting that there is nothing more to do;
- `save_reply`: → reply received: saving the tracker, releasing the lock, the HTTP answer.

Parts (`measure`), through Rasa's HTTP API on a finished conversation, each with one local HTTP round trip:
`parse` (POST /model/parse, NLU only), `tracker` (GET the tracker: read and serialise it), `action`
(POST the action server's webhook with the payload Rasa sends: one custom action).

`action_response_check`: inside Rasa, every custom action's answer goes through `jsonschema.validate()`
(rasa/core/actions/action.py `RemoteAction._validate_action_result`), which checks the schema itself against
its meta-schema on every call before checking the answer. Timed in Rasa's interpreter, against a
validator built once, and as our Rasa checks it (rasa_addons/speedups.py: each event against its own type's
schema, the full check only for an answer that fails).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import httpx

from scripts.bench.stats import percentile

SKIP_ACTIONS = {"action_listen", "action_session_start", "action_unlikely_intent"}


def _p50_ms(call: Callable[[], httpx.Response], calls: int) -> Optional[float]:
    latencies: List[float] = []
    for _ in range(calls):
        started = time.perf_counter()
        try:
            ok = call().status_code == 200
        except httpx.HTTPError:
            ok = False
        if ok:
            latencies.append((time.perf_counter() - started) * 1000)
    return round(percentile(latencies, 50), 2) if latencies else None


def last_custom_action(tracker: Dict[str, Any]) -> Optional[str]:
    """The last action the conversation ran on the action server (not an utterance, not a built-in)."""
    for event in reversed(tracker.get("events") or []):
        name = event.get("name") or ""
        if event.get("event") == "action" and name.startswith("action_") and name not in SKIP_ACTIONS:
            return name
    return None


SEGMENTS = ("receive_parse", "actions", "last_prediction", "save_reply")


def turn_segments(sent: float, received: float, events: Sequence[Dict[str, Any]]) -> Optional[Dict[str, float]]:
    """Split one turn (client send and receive times, the events Rasa logged for it from the user event on)
    into SEGMENTS, in milliseconds; None when the events do not show a whole turn."""
    if not events or events[0].get("event") != "user":
        return None
    user = events[0]["timestamp"]
    actions = [e for e in events[1:] if e.get("event") == "action"]
    listen = next((e["timestamp"] for e in actions if e.get("name") == "action_listen"), None)
    if listen is None:
        return None
    before = [e["timestamp"] for e in actions if e.get("name") != "action_listen" and e["timestamp"] <= listen]
    last_action = max(before) if before else user
    marks = [sent, user, last_action, listen, received]
    return {name: round((b - a) * 1000, 2) for name, a, b in zip(SEGMENTS, marks[:-1], marks[1:], strict=True)}


def split_turns(events: Sequence[Dict[str, Any]]) -> List[List[Dict[str, Any]]]:
    """The tracker's events cut at each user event (what comes before the first one is dropped)."""
    turns: List[List[Dict[str, Any]]] = []
    for event in events:
        if event.get("event") == "user":
            turns.append([event])
        elif turns:
            turns[-1].append(event)
    return turns


def timeline(
    base_url: str, token: str, scripts: Sequence[Sequence[str]], sender_prefix: str, conversations: int = 6
) -> Dict[str, Any]:
    """Median of each segment of a turn, over `conversations` conversations sent one message at a time."""
    segments: Dict[str, List[float]] = {name: [] for name in SEGMENTS}
    totals: List[float] = []
    with httpx.Client(timeout=30) as client:
        for number in range(conversations):
            sender = f"{sender_prefix}-timeline-{number}"
            times = []
            for text in scripts[number % len(scripts)]:
                sent = time.time()
                client.post(f"{base_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}).raise_for_status()
                times.append((sent, time.time()))
            tracker = client.get(f"{base_url}/conversations/{sender}/tracker", params={"token": token}).json()
            for (sent, received), events in zip(times, split_turns(tracker.get("events") or []), strict=False):
                split = turn_segments(sent, received, events)
                if split:
                    totals.append((received - sent) * 1000)
                    for name in SEGMENTS:
                        segments[name].append(split[name])
    result: Dict[str, Any] = {"turns": len(totals)}
    if totals:
        result["total_ms"] = round(percentile(totals, 50), 2)
        result.update({f"{name}_ms": round(percentile(values, 50), 2) for name, values in segments.items()})
    return result


def measure(base_url: str, token: str, sender: str, action_url: Optional[str], calls: int = 50) -> Dict[str, Any]:
    """p50 (ms) of each part, on an existing conversation `sender` (sequential, one call at a time)."""
    params = {"token": token}
    conversation = f"{base_url}/conversations/{sender}"
    result: Dict[str, Any] = {"sender": sender, "calls": calls}
    with httpx.Client(timeout=30) as client:
        result["parse_ms"] = _p50_ms(lambda: client.post(f"{base_url}/model/parse", params=params, json={"text": "hello"}), calls)
        result["tracker_ms"] = _p50_ms(lambda: client.get(f"{conversation}/tracker", params=params), calls)
        if action_url:
            tracker = client.get(f"{conversation}/tracker", params=params).json()
            domain = client.get(f"{base_url}/domain", params=params, headers={"Accept": "application/json"}).json()
            action = last_custom_action(tracker)
            if action:
                payload = {"next_action": action, "sender_id": sender, "tracker": tracker, "domain": domain, "version": "3.6"}
                result["action"] = action
                result["action_ms"] = _p50_ms(lambda: client.post(action_url, json=payload), calls)
    return result


# Run by Rasa's Python. The schema is RemoteAction.action_response_format_spec() (importing that module
# would load TensorFlow, 15 s); the answer is what our actions typically send: slots and one reply.
_CHECK = """
import json, sys, time
import jsonschema
sys.path.insert(0, sys.argv[1])
from rasa_addons.speedups import _by_event_type
from rasa.shared.utils.schemas.events import EVENTS_SCHEMA
spec = {"type": "object", "properties": {"events": EVENTS_SCHEMA,
        "responses": {"type": "array", "items": {"type": "object"}}}}
answer = {"events": [{"event": "slot", "name": "language", "value": "en"},
                     {"event": "slot", "name": "topic", "value": "benefits"}],
          "responses": [{"text": "What partners get ...", "buttons": []}]}
def per_call(check, n=40):
    check()
    started = time.perf_counter()
    for _ in range(n):
        check()
    return round((time.perf_counter() - started) * 1000 / n, 2)
validator = jsonschema.validators.validator_for(spec)(spec)
quick = _by_event_type(spec, jsonschema.validators.validator_for(spec))
assert quick(answer)
print(json.dumps({"as_rasa_does_ms": per_call(lambda: jsonschema.validate(answer, spec)),
                  "validator_built_once_ms": per_call(lambda: validator.validate(answer)),
                  "by_event_type_ms": per_call(lambda: quick(answer))}))
"""


def action_response_check(rasa_python: Path) -> Optional[Dict[str, float]]:
    """Milliseconds Rasa spends validating one action server answer, as it does it and with a cached validator."""
    root = str(Path(__file__).resolve().parents[2])
    done = subprocess.run([str(rasa_python), "-c", _CHECK, root], capture_output=True, text=True, timeout=120)
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
