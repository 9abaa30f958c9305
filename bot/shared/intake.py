"""The contract between the action server and the lead intake (POST /api/leads), defined once.

The actions build the body with `intake_body` and hand it to the outbox; the intake validates it with
bot.leads.schemas.IntakeRequest, whose limits are the constants below. tests/bot/leads/test_contract.py
proves that what `intake_body` builds is what the intake accepts.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import phonenumbers

from bot.shared.transcript import Turn

# What the intake stores (a `kind` column) and what the outbox also carries (an erasure request).
INTAKE_KINDS: Tuple[str, ...] = ("lead", "handoff")
JOB_KINDS: Tuple[str, ...] = INTAKE_KINDS + ("erase",)
LANGUAGES: Tuple[str, ...] = ("en", "zh")

# Limits of the body (the intake refuses more; the actions cut the transcript to fit).
MAX_TURNS = 300
MAX_TURN_CHARS = 4000
MAX_PERSON_CHARS = 120
MAX_EMAIL_CHARS = 254
MAX_PHONE_CHARS = 32
MAX_NOTE_CHARS = 2000
MAX_NOTICE_VERSION_CHARS = 32
MAX_CONVERSATION_ID_CHARS = 128
MAX_CHANNEL_CHARS = 32
MAX_PROFILE_FIELDS = 50
MAX_PROFILE_CHARS = 10_000  # the profile is free-form JSON: its serialised size is bounded, not each value
MAX_IDEMPOTENCY_KEY_CHARS = 200  # the Idempotency-Key header (the outbox's job ids are far shorter)

# Guangzhou program: a number written without a country code is read as a mainland China number.
DEFAULT_PHONE_REGION = "CN"


class InvalidPhone(ValueError):
    """Not a phone number, or not a valid one in the region it was read with."""


def _plausible_international(text: str, number: phonenumbers.PhoneNumber) -> bool:
    """Written with its country code ("+44 7700 900456") and of a possible length there: kept, because
    numbering plans change faster than the library's metadata and staff can check a number; a number
    without a country code must be valid, so "12345" is not taken for a phone."""
    explicit = text.lstrip().startswith(("+", "00"))
    return explicit and phonenumbers.is_possible_number(number) and len(str(number.national_number)) >= 7


def normalise_phone(text: str, region: Optional[str] = None) -> str:
    """A phone number in E.164 (+8613800138000); raise InvalidPhone when it is not a valid number."""
    region = (region or DEFAULT_PHONE_REGION).upper()
    try:
        number = phonenumbers.parse(text or "", region)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhone(f"not a phone number ({error})") from None
    if not (phonenumbers.is_valid_number(number) or _plausible_international(text or "", number)):
        raise InvalidPhone(f"not a valid number (read with region {region}; write +<country code> to be explicit)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def transcript_turns(turns: Sequence[Turn]) -> List[Dict[str, Any]]:
    """The last MAX_TURNS turns, each cut to MAX_TURN_CHARS, as the intake stores them (buttons left out)."""
    return [
        {"sender": t.sender, "text": t.text[:MAX_TURN_CHARS], "timestamp": float(t.timestamp)}
        for t in turns
        if t.text
    ][-MAX_TURNS:]


def intake_body(
    *,
    kind: str,
    conversation_id: str,
    channel: str,
    language: str,
    person: str,
    email: str,
    phone: Optional[str],
    notice_version: str,
    consent_at: Optional[float],
    transcript: Sequence[Turn],
    profile: Optional[Mapping[str, Any]] = None,
    note: Optional[str] = None,
) -> Dict[str, Any]:
    """The body of POST /api/leads for one consented lead (`kind="lead"`, with its profile) or hand-off."""
    if kind not in INTAKE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(INTAKE_KINDS)}")
    given_at = datetime.fromtimestamp(float(consent_at), tz=timezone.utc) if consent_at else datetime.now(timezone.utc)
    return {
        "kind": kind,
        "conversation_id": conversation_id,
        "channel": channel,
        "language": language,
        "profile": dict(profile) if profile is not None else None,
        "contact": {"person": person, "email": email, "phone": phone or None},
        "consent": {"given": True, "notice_version": notice_version, "given_at": given_at.isoformat()},
        "transcript": transcript_turns(transcript),
        "note": note if kind == "handoff" else None,
    }
