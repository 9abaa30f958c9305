"""The dialogue's states, replayed once per tracker instead of once per policy and prediction.

Every prediction asks each policy for its states (`Domain.states_for_tracker_history`), and each call replays
the tracker's events from the start on a fresh copy and builds a state at each action: with two policies and
two predictions a turn, the same replay four times (a tenth of a turn's CPU, `make bench`). Here a tracker
keeps what its replay saw at each action — the state and the few facts the rule-only filtering reads — and the
replayed copy itself, so the next call on the same tracker replays only the events added since. Each call then
filters and cleans fresh copies exactly as Rasa does. When the applied events are no longer those replayed
(an undo, a restart, a new session), the replay starts over.

tests/rasa_addons/test_prior_states.py holds it to Rasa's own function on real conversations, with every
option, as the tracker grows and after rewinds.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import rasa.shared.core.constants as core
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.trackers import DialogueStateTracker

_RASAS = Domain.states_for_tracker_history
_REPLAYS: Dict[int, Tuple[Any, Dict[Tuple[int, bool], _Replay]]] = {}  # id(tracker) -> (weak reference, replays)


@dataclass(frozen=True)
class _Prior:
    """What states_for_tracker_history reads of one prior tracker (the tracker before an action)."""

    hide_rule_turn: bool
    followup_action: Optional[str]
    latest_action_name: Optional[str]
    active_loop_name: Optional[str]
    previous_action: Optional[Dict[str, Any]]
    state: Dict[str, Any]


@dataclass
class _Replay:
    domain: Any
    omit_unset_slots: bool
    applied: List[Any] = field(default_factory=list)  # the events replayed, in order (compared by identity)
    priors: List[_Prior] = field(default_factory=list)  # one per ActionExecuted among them
    tracker: Any = None  # the copy they were replayed on


def _prior(domain: Any, tracker: Any, hide_rule_turn: bool, omit_unset_slots: bool) -> _Prior:
    # Copies: the replayed copy goes on changing after this.
    previous = domain._get_prev_action_sub_state(tracker)
    return _Prior(hide_rule_turn, tracker.followup_action, tracker.latest_action_name, tracker.active_loop_name,
                  dict(previous) if previous is not None else None,
                  _fresh(domain.get_active_state(tracker, omit_unset_slots)))


def _forget(key: int) -> None:
    _REPLAYS.pop(key, None)


def _replay_of(domain: Any, tracker: Any, omit_unset_slots: bool) -> _Replay:
    """The tracker's replay, brought up to its applied events (started over when they are not a continuation)."""
    applied = tracker.applied_events()
    entry = _REPLAYS.get(id(tracker))
    if entry is None or entry[0]() is not tracker:  # none yet, or a dead tracker's whose id was reused
        entry = _REPLAYS[id(tracker)] = (weakref.ref(tracker, lambda _, k=id(tracker): _forget(k)), {})
    replays = entry[1]
    key = (id(domain), omit_unset_slots)
    replay = replays.get(key)
    done = replay.applied if replay is not None and replay.domain is domain else None
    if done is None or len(done) > len(applied) or any(a is not b for a, b in zip(done, applied[: len(done)], strict=True)):
        replay = replays[key] = _Replay(domain, omit_unset_slots, tracker=tracker.init_copy())
    for event in applied[len(replay.applied):]:
        if isinstance(event, ActionExecuted):
            replay.priors.append(_prior(domain, replay.tracker, event.hide_rule_turn, omit_unset_slots))
        replay.tracker.update(event)
        replay.applied.append(event)
    return replay


def _fresh(state: Dict[str, Any]) -> Dict[str, Any]:
    # Two levels: the sub-states are dictionaries of strings, tuples and numbers, which nobody changes in place.
    return {kind: dict(sub) if isinstance(sub, dict) else sub for kind, sub in state.items()}


def states_for_tracker_history(
    self: Any,
    tracker: Any,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: Optional[Dict[str, Any]] = None,
) -> List[Dict[str, Any]]:
    """Rasa 3.6's Domain.states_for_tracker_history on the tracker's kept replay (same states, same order)."""
    if type(tracker) is not DialogueStateTracker:  # training's trackers cache their own states (and are many)
        return _RASAS(self, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    replay = _replay_of(self, tracker, omit_unset_slots)
    final = _prior(self, replay.tracker, False, omit_unset_slots)  # the tracker as it is now, after every event
    states: List[Dict[str, Any]] = []
    last_ml_action_sub_state = None
    turn_was_hidden = False
    for prior in (*replay.priors, final):
        if ignore_rule_only_turns:
            if not turn_was_hidden:
                last_ml_action_sub_state = prior.previous_action
            if not prior.followup_action and not prior.latest_action_name == prior.active_loop_name:
                turn_was_hidden = prior.hide_rule_turn
            if turn_was_hidden:
                continue
        state = _fresh(prior.state)
        if ignore_rule_only_turns:
            self._remove_rule_only_features(state, rule_only_data)
            if states:
                self._substitute_rule_only_user_input(state, states[-1])
            if last_ml_action_sub_state:
                state[core.PREVIOUS_ACTION] = dict(last_ml_action_sub_state)
        states.append(self._clean_state(state))
    return states


def apply() -> None:
    if getattr(Domain.states_for_tracker_history, "_gzcp_replayed_once", False):
        return
    states_for_tracker_history._gzcp_replayed_once = True  # type: ignore[attr-defined]
    Domain.states_for_tracker_history = states_for_tracker_history  # type: ignore[method-assign]
