"""The contract between the action server and the intake, proven from both ends (Python 3.11): what the
actions hand over (bot.shared.program.handover.lead_body, the function the action calls) is what the intake's
schema accepts and stores, and the schema refuses what it should."""

from __future__ import annotations

import time
from typing import Any, Dict, List

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from bot.leads.schemas import IntakeRequest
from bot.shared import intake
from bot.shared.program.handover import lead_body
from bot.shared.program.screening import Screening
from bot.shared.program.screening_data import load_screening

S = Screening(load_screening())
COMPANY: Dict[str, Any] = {
    "org_type": "enterprise", "org_name": "Siemens AG", "country": "Germany", "credentials": ["fortune_global_500"],
    "employees": 300000, "industry": "industrial automation", "guangzhou_presence": "present",
    "contribution": "an R&D centre", "contact_person": "Anna Schmidt", "email": "anna@siemens-example.com",
    "phone": "+49 30 1234567", "consent": True, "confirmed": "send",
}
PERSON: Dict[str, Any] = {
    "org_type": "individual", "org_name": "李明", "country": "中国", "field": "sports",
    "achievement": "internationally_renowned", "promotion": "social media", "guangzhou_presence": "planning",
    "contribution": "", "email": "li.ming@example.cn", "phone": "", "consent": True, "confirmed": "send",
}
EVENTS: List[Dict[str, Any]] = [
    {"event": "user", "text": "we'd like to join", "timestamp": 1.0},
    {"event": "bot", "text": "which describes you?", "data": {"buttons": [
        {"title": "Enterprise", "payload": '/inform{"choice":"enterprise"}'}]}, "timestamp": 2.0},
    {"event": "user", "text": '/inform{"choice":"enterprise"}', "timestamp": 3.0},
    {"event": "rewind"},  # a failed turn the gateway undid, then sent again
    {"event": "user", "text": '/inform{"choice":"enterprise"}', "timestamp": 4.0},
    {"event": "bot", "text": "and your name?", "timestamp": 5.0},
]


def body(answers: Dict[str, Any], kind: str = "lead", sender: str = "web-abc", language: str = "en") -> Dict[str, Any]:
    return lead_body(S, kind=kind, conversation_id=sender, language=language, answers=answers,
                     consent_at=time.time() - 5, events=EVENTS)


@pytest.mark.parametrize("answers", [COMPANY, PERSON], ids=["company", "individual"])
def test_what_the_actions_send_is_what_the_intake_accepts(answers: Dict[str, Any]) -> None:
    request = IntakeRequest.model_validate(body(answers))
    assert request.kind == "lead" and request.channel == "web" and request.profile == S.profile_data(answers)
    assert request.contact.email == answers["email"]
    if answers is PERSON:  # an individual's own name stands for the contact person; a skipped phone is none
        assert request.contact.person == "李明" and request.contact.phone is None
    else:
        assert request.contact.phone == "+49301234567"  # normalised to E.164 by the shared rule
    # the transcript honours the undone turn: the pressed button shows once, by its title
    assert [t.text for t in request.transcript] == ["we'd like to join", "which describes you?", "Enterprise",
                                                    "and your name?"]


def test_a_handoff_and_each_channel_are_understood() -> None:
    answers = {"handoff_wanted": True, "handoff_note": "Please call me about fees", "contact_person": "Bo",
               "email": "bo@example.org", "phone": "", "consent": True, "confirmed": "send"}
    for sender, channel in (("telegram-42", "telegram"), ("web-x", "web"), ("script-1", "rest")):
        request = IntakeRequest.model_validate(body(answers, kind="handoff", sender=sender))
        assert request.kind == "handoff" and request.note == "Please call me about fees" and request.profile is None
        assert request.channel == channel


def test_the_intake_refuses_what_it_should() -> None:
    good = body(COMPANY)
    for broken, where in [
        ({**good, "consent": {**good["consent"], "given": False}}, "consent"),
        ({**good, "kind": "erase"}, "kind"),
        ({**good, "profile": None}, "profile"),
        ({**good, "contact": {**good["contact"], "phone": "12"}}, "phone"),
        ({**good, "transcript": good["transcript"] * (intake.MAX_TURNS + 1)}, "transcript"),
        ({**good, "category": "strategic_partner"}, "category"),  # the intake makes its own assessment
    ]:
        with pytest.raises(ValidationError, match=where):
            IntakeRequest.model_validate(broken)


def test_the_builder_keeps_within_the_limits_the_intake_checks() -> None:
    long_events = [{"event": "user", "text": f"{i} " + "x" * intake.MAX_TURN_CHARS, "timestamp": float(i)}
                   for i in range(intake.MAX_TURNS + 20)]
    built = lead_body(S, kind="lead", conversation_id="web-a", language="zh", answers=COMPANY, consent_at=None,
                      events=long_events)
    request = IntakeRequest.model_validate(built)
    assert len(request.transcript) == intake.MAX_TURNS and len(request.transcript[0].text) == intake.MAX_TURN_CHARS


def test_a_lead_the_actions_build_is_stored_by_the_intake(client: TestClient) -> None:
    response = client.post("/api/leads", json=body(COMPANY), headers={"Idempotency-Key": "contract-1"})
    assert response.status_code == 201, response.text
    stored = response.json()
    assert stored["assessment"]["category"] == "strategic_partner" and stored["channel"] == "web"


def test_a_profile_close_to_a_category_is_stored_marked_for_review(client: TestClient) -> None:
    answers = {**COMPANY, "credentials": ["little_giant"], "employees": 300, "industry": "technical textiles",
               "guangzhou_presence": "none", "contribution": ""}
    assert S.assessment(answers).outcome == "review" and S.passes_on(answers)
    response = client.post("/api/leads", json=body(answers), headers={"Idempotency-Key": "contract-review"})
    assert response.status_code == 201, response.text
    assessment = response.json()["assessment"]
    assert assessment["review"] is True and assessment["qualified"] is False
    assert client.get("/api/staff/leads", params={"qualified": "review"}).status_code in (200, 401)  # the filter exists
