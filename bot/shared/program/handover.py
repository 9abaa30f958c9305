"""What the assistant hands to the intake for a lead or a hand-off: one function, used by the action server
(actions/handoff.py) and checked against the intake's schema by tests/bot/leads/test_contract.py."""

from __future__ import annotations

from typing import Any, Dict, Iterable, Mapping, Optional

from bot.shared import transcript
from bot.shared.channels import channel_of
from bot.shared.intake import intake_body
from bot.shared.program.payloads import payload_label
from bot.shared.program.screening import Screening


def lead_body(
    s: Screening,
    *,
    kind: str,
    conversation_id: str,
    language: str,
    answers: Mapping[str, Any],
    consent_at: Optional[float],
    events: Iterable[Mapping[str, Any]],
) -> Dict[str, Any]:
    """The intake body from the form's answers and the conversation's events (Rasa's, as dicts)."""
    contact = s.contact_data(answers)
    return intake_body(
        kind=kind,
        conversation_id=conversation_id,
        channel=channel_of(conversation_id),
        language=language,
        profile=s.profile_data(answers) if s.profile_complete(answers) else None,
        person=contact["person"],
        email=contact["email"],
        phone=contact["phone"],
        notice_version=s.data.notice.version,
        consent_at=consent_at,
        transcript=transcript.turns(events, lambda payload: payload_label(payload, language)),
        note=s.note(answers),
    )
