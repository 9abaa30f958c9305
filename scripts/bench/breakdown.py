"""Where a message's time goes, from the outside: Rasa's HTTP API for parts of a turn, timed one by one.

- `parse`: POST /model/parse — NLU only.
- `tracker`: GET /conversations/<id>/tracker — read the conversation from the tracker store, as JSON.
- `predict`: POST /conversations/<id>/predict — read the tracker, run the policies (nothing executed).
- `action`: POST <action server>/webhook with the payload Rasa sends (tracker and domain) — one custom action.

Each figure includes one local HTTP round trip (about a millisecond). What a webhook message costs beyond
their sum is Rasa's own turn handling: the lock, saving the tracker, building the action call, checking the
action server's answer, predicting again after the action, the channel.

`action_response_check`: inside Rasa, every custom action's answer goes through `jsonschema.validate()`
(rasa/core/actions/action.py `RemoteAction._validate_action_result`), which checks the schema itself against
its meta-schema on every call before checking the answer. Timed here in Rasa's interpreter, against a
validator built once.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

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


def measure(base_url: str, token: str, sender: str, action_url: Optional[str], calls: int = 50) -> Dict[str, Any]:
    """p50 (ms) of each part, on an existing conversation `sender` (sequential, one call at a time)."""
    params = {"token": token}
    conversation = f"{base_url}/conversations/{sender}"
    result: Dict[str, Any] = {"sender": sender, "calls": calls}
    with httpx.Client(timeout=30) as client:
        result["parse_ms"] = _p50_ms(lambda: client.post(f"{base_url}/model/parse", params=params, json={"text": "hello"}), calls)
        result["tracker_ms"] = _p50_ms(lambda: client.get(f"{conversation}/tracker", params=params), calls)
        result["predict_ms"] = _p50_ms(lambda: client.post(f"{conversation}/predict", params=params), calls)
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
import json, time
import jsonschema
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
print(json.dumps({"as_rasa_does_ms": per_call(lambda: jsonschema.validate(answer, spec)),
                  "validator_built_once_ms": per_call(lambda: validator.validate(answer))}))
"""


def action_response_check(rasa_python: Path) -> Optional[Dict[str, float]]:
    """Milliseconds Rasa spends validating one action server answer, as it does it and with a cached validator."""
    done = subprocess.run([str(rasa_python), "-c", _CHECK], capture_output=True, text=True, timeout=120)
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
