"""rasa_addons.prior_states gives exactly Rasa's states: on every story and rule of the project, event by event as
the tracker grows (so the kept replay is continued), with every option, and after undo, rewind and restart."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any, Dict, List

import pytest
from rasa.shared.core.constants import RULE_ONLY_LOOPS, RULE_ONLY_SLOTS
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActionReverted, Restarted, UserUtteranceReverted
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.core.training_data.structures import StoryGraph

from rasa_addons import prior_states

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture(scope="module")
def conversations(domain: Domain) -> List[List[Any]]:
    """The events of every story and rule (as training reads them, without augmentation)."""
    steps = []
    for path in sorted((ROOT / "stories").glob("*.yml")):
        steps += YAMLStoryReader(domain).read_from_file(str(path))
    trackers = TrainingDataGenerator(StoryGraph(steps), domain, remove_duplicates=True, augmentation_factor=0).generate()
    stories = [list(tracker.events) for tracker in trackers if len(tracker.events) > 2]
    # As in a live conversation, where the rule policy's turns that stories never show are hidden from the ML
    # policies: the same conversations again with every other action so marked.
    return stories + [_hiding_every_other_action(events) for events in stories]


def _hiding_every_other_action(events: List[Any]) -> List[Any]:
    out, actions = [], 0
    for event in events:
        if isinstance(event, ActionExecuted):
            actions += 1
            if actions % 2 == 0:
                event = copy.copy(event)
                event.hide_rule_turn = True
        out.append(event)
    return out


def _options(domain: Domain) -> List[Dict[str, Any]]:
    rule_only = {RULE_ONLY_SLOTS: [slot.name for slot in domain.slots[:3]], RULE_ONLY_LOOPS: list(domain.form_names[:1])}
    return [{"omit_unset_slots": omit, "ignore_rule_only_turns": ignore, "rule_only_data": data}
            for omit, ignore, data in itertools.product((False, True), (False, True), (None, rule_only))]


def _same(domain: Domain, tracker: DialogueStateTracker, options: List[Dict[str, Any]]) -> None:
    for option in options:
        ours = prior_states.states_for_tracker_history(domain, tracker, **option)
        assert ours == prior_states._RASAS(domain, tracker, **option), option


def test_the_states_are_rasas_as_the_tracker_grows(domain: Domain, conversations: List[List[Any]]) -> None:
    options = _options(domain)
    assert len(conversations) > 40 and any(domain.form_names)
    assert any(getattr(e, "hide_rule_turn", False) for events in conversations for e in events)
    continued = 0
    for number, events in enumerate(conversations):
        tracker = DialogueStateTracker(f"story-{number}", domain.slots)
        for event in events:
            tracker.update(event, domain)
            if isinstance(event, ActionExecuted):
                _same(domain, tracker, options)
                replay = prior_states._REPLAYS[id(tracker)][1][(id(domain), False)]
                continued += replay.applied[0] is tracker.applied_events()[0]
        # Undone and restarted: the applied events are no longer a continuation of the replay.
        for undo in (UserUtteranceReverted(), ActionReverted(), Restarted()):
            tracker.update(undo, domain)
            _same(domain, tracker, options)
    assert continued > len(conversations)  # the replay was kept and continued, not only rebuilt


def test_training_trackers_keep_rasas_own_path(domain: Domain, monkeypatch: pytest.MonkeyPatch) -> None:
    steps = YAMLStoryReader(domain).read_from_file(str(ROOT / "stories" / "rules.yml"))
    tracker = TrainingDataGenerator(StoryGraph(steps), domain, augmentation_factor=0).generate()[0]
    seen = []
    monkeypatch.setattr(prior_states, "_replay_of", lambda *args: seen.append(args))
    prior_states.states_for_tracker_history(domain, tracker)
    assert not seen and type(tracker) is not DialogueStateTracker


def test_a_trackers_replay_goes_with_the_tracker(domain: Domain, conversations: List[List[Any]]) -> None:
    tracker = DialogueStateTracker.from_events("gone", conversations[0], slots=domain.slots)
    prior_states.states_for_tracker_history(domain, tracker)
    key = id(tracker)
    assert key in prior_states._REPLAYS
    del tracker
    assert key not in prior_states._REPLAYS


def test_rasa_uses_it_once_the_speedups_are_applied() -> None:
    from rasa_addons import speedups

    speedups.apply()
    assert Domain.states_for_tracker_history is prior_states.states_for_tracker_history
