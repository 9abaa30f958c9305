"""Bodies of the intake API. Every string and list is bounded and unknown fields are refused, so a caller
cannot slip in anything we did not ask for — an assessment or a category above all: the service makes its own."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Dict, List, Literal, Optional, Union

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StrictBool, field_validator, model_validator

from bot.leads.models import Lead
from bot.shared import intake
from bot.shared.intake import DEFAULT_PHONE_REGION, MAX_PROFILE_CHARS, InvalidPhone, normalise_phone

CLOCK_SKEW = timedelta(minutes=5)

# The contract's values and limits (bot.shared.intake), as pydantic types.
Kind = Literal[intake.INTAKE_KINDS]  # type: ignore[valid-type]
Language = Literal[intake.LANGUAGES]  # type: ignore[valid-type]
PersonName = Annotated[str, Field(min_length=1, max_length=intake.MAX_PERSON_CHARS)]
PhoneText = Annotated[str, Field(min_length=1, max_length=intake.MAX_PHONE_CHARS)]
NoticeVersion = Annotated[str, Field(min_length=1, max_length=intake.MAX_NOTICE_VERSION_CHARS)]
ConversationId = Annotated[str, Field(min_length=1, max_length=intake.MAX_CONVERSATION_ID_CHARS)]
TurnText = Annotated[str, Field(max_length=intake.MAX_TURN_CHARS)]
Channel = Annotated[str, Field(min_length=1, max_length=intake.MAX_CHANNEL_CHARS, pattern=r"^[A-Za-z0-9_.-]+$",
                               examples=["rest", "web", "telegram"])]
Note = Annotated[str, Field(min_length=1, max_length=intake.MAX_NOTE_CHARS)]


_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_DEPTH = 8  # a profile is flat (texts, a list of credentials); deeper JSON is refused, not walked


def _no_nul(value: Any) -> Any:
    # PostgreSQL refuses NUL in text and JSONB: refuse it here as a 422 rather than fail at the insert.
    # A loop, not recursion: free-form JSON nested a thousand deep must be a 422, not a RecursionError.
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValueError("text may not contain NUL characters")
            if _SURROGATE.search(item):  # typed fields refuse these already; free-form JSON (the profile) too
                raise ValueError("text must be valid Unicode (no lone surrogates such as \\ud800)")
        elif isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                raise ValueError(f"nested too deeply (more than {MAX_DEPTH} levels)")
            children = [c for kv in item.items() for c in kv] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return value


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    _strings_without_nul = field_validator("*")(_no_nul)


class Contact(_Body):
    person: PersonName
    email: Annotated[EmailStr, Field(max_length=intake.MAX_EMAIL_CHARS)]
    phone: Optional[PhoneText] = Field(None, description="any usual notation; stored as E.164 (+8613800138000)")
    phone_region: Optional[Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")]] = Field(
        None, description=f"ISO 3166 region for a number without a country code (default {DEFAULT_PHONE_REGION})"
    )

    @model_validator(mode="after")
    def _normalise_phone(self) -> Contact:
        if self.phone is None:
            return self
        try:
            self.phone = normalise_phone(self.phone, self.phone_region)
        except InvalidPhone as error:
            raise ValueError(f"phone: {error}") from None
        self.phone_region = None  # a hint for parsing only; the E.164 form says it all
        return self


class Consent(_Body):
    # strict: "yes" or 1 is not consent; `const` tells API clients (and schemathesis) that only true is accepted
    given: StrictBool = Field(description="must be true: nothing is stored without consent", json_schema_extra={"const": True})
    notice_version: NoticeVersion
    given_at: AwareDatetime

    @field_validator("given_at")
    @classmethod
    def _not_in_future(cls, value: datetime) -> datetime:
        if value > datetime.now(timezone.utc) + CLOCK_SKEW:
            raise ValueError("consent cannot be given in the future")
        try:
            return value.astimezone(timezone.utc)
        except OverflowError:  # 0001-01-01T00:00+05:00 is before the first representable UTC instant
            raise ValueError("given_at is out of range") from None


class Turn(_Body):
    sender: Literal["user", "bot"]
    text: TurnText
    timestamp: Annotated[float, Field(ge=0, allow_inf_nan=False)]


class IntakeRequest(_Body):
    kind: Kind
    conversation_id: ConversationId
    channel: Channel
    language: Language
    profile: Optional[Annotated[Dict[str, Any], Field(max_length=intake.MAX_PROFILE_FIELDS)]] = Field(
        None, description="answers to the eligibility questions; required for a lead"
    )
    contact: Contact
    consent: Consent
    transcript: Annotated[List[Turn], Field(max_length=intake.MAX_TURNS)] = Field(default_factory=list)
    note: Optional[Note] = Field(None, description="for a hand-off: what the user asked")

    @field_validator("profile")
    @classmethod
    def _bounded_profile(cls, value: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
        if value is None:
            return value
        try:  # strict JSON: PostgreSQL's JSONB (and our responses) have no NaN or Infinity
            size = len(json.dumps(value, ensure_ascii=False, allow_nan=False))
        except ValueError:
            raise ValueError("profile may not contain NaN or Infinity") from None
        if size > MAX_PROFILE_CHARS:
            raise ValueError(f"profile is too large (more than {MAX_PROFILE_CHARS} characters of JSON)")
        return value

    @model_validator(mode="after")
    def _consented_and_complete(self) -> IntakeRequest:
        if not self.consent.given:
            raise ValueError("consent.given must be true: nothing is stored without the user's consent")
        if self.kind == "lead" and self.profile is None:
            raise ValueError("a lead needs a profile (the answers the assessment is made from)")
        return self

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of the validated body: what an idempotent replay must match."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- responses -------------------------------------------------------------------------------------


class ContactOut(BaseModel):
    person: str
    email: str
    phone: Optional[str]


class ConsentOut(BaseModel):
    notice_version: str
    given_at: datetime


class AssessmentOut(BaseModel):
    category: Optional[str] = Field(description="recommended category, or the closest one when not qualified; null if none fits")
    qualified: bool
    review: bool = Field(False, description="not qualified, but close or not placeable by the rules: staff judge it")
    score: int
    reasons: List[Dict[str, str]] = Field(description="each reason in every language: {en, zh}")
    alternatives: List[str] = Field(description="other categories the profile also qualifies for, best first")
    rules_version: str


class LeadOut(BaseModel):
    id: str
    kind: Kind
    status: str
    created_at: datetime
    conversation_id: str
    channel: str
    language: str
    contact: ContactOut
    consent: ConsentOut
    profile: Optional[Dict[str, Any]]
    assessment: Optional[AssessmentOut]
    transcript: List[Dict[str, Any]]
    note: Optional[str]

    @classmethod
    def from_row(cls, lead: Lead) -> LeadOut:
        assessment = None
        if lead.rules_version is not None:  # hand-offs without a profile were never assessed
            assessment = AssessmentOut(
                category=lead.category,
                qualified=bool(lead.qualified),
                review=bool(lead.review),
                score=lead.score or 0,
                reasons=lead.reasons or [],
                alternatives=lead.alternatives or [],
                rules_version=lead.rules_version,
            )
        return cls(
            id=lead.id,
            kind=lead.kind,  # type: ignore[arg-type]
            status=lead.status,
            created_at=lead.created_at,
            conversation_id=lead.conversation_id,
            channel=lead.channel,
            language=lead.language,
            contact=ContactOut(person=lead.person, email=lead.email, phone=lead.phone),
            consent=ConsentOut(notice_version=lead.consent_notice_version, given_at=lead.consent_given_at),
            profile=lead.profile,
            assessment=assessment,
            transcript=lead.transcript,
            note=lead.note,
        )


class Deleted(BaseModel):
    deleted: int


class MessageOut(BaseModel):
    detail: str


class ValidationIssue(BaseModel):
    type: str
    loc: List[Union[str, int]]
    msg: str
    input: Any = None
    ctx: Optional[Dict[str, Any]] = None


class IntakeErrorOut(BaseModel):
    detail: Union[str, List[ValidationIssue]] = Field(
        description="what is wrong: a list of problems (invalid body or profile), or a sentence (a reused Idempotency-Key)"
    )


class OutboxJobOut(BaseModel):
    id: str
    kind: str
    conversation_id: str
    attempts: int
    created_at: float = Field(description="Unix time the assistant handed the job in")
    last_error: str


class OutboxOut(BaseModel):
    pending: int = Field(description="jobs waiting for delivery, including retries")
    retrying: int
    dead: int = Field(description="jobs the intake refused for good; kept until staff revive them")
    oldest_pending_seconds: float
    refused: List[OutboxJobOut]
