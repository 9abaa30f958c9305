"""JSON shapes of the staff API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from bot.leads.models import Lead
from bot.leads.schemas import LeadOut
from bot.staff.models import AuditEntry, LeadNote
from bot.staff.service import organization


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class StatusIn(_In):
    status: Literal["new", "in_review", "contacted", "accepted", "declined"]
    reason: Optional[str] = Field(None, max_length=1000, description="required to decline")


class AssigneeIn(_In):
    assignee_id: Optional[int] = Field(description="a reviewer's or admin's id; null to unassign")


class ReviewIn(_In):
    category: Optional[str] = Field(None, max_length=64, description="a category key (categories.yml), or null: none fits")
    qualifies: bool
    reason: Optional[str] = Field(None, max_length=4000, description="required when it does not qualify")


class NoteIn(_In):
    text: str = Field(min_length=1, max_length=4000)


class LeadSummary(BaseModel):
    id: str
    kind: str
    status: str
    created_at: datetime
    channel: str
    language: str
    organization: str
    person: str
    email: str
    category: Optional[str]
    qualified: Optional[bool]
    review: bool = False
    score: Optional[int]
    assignee_id: Optional[int]

    @classmethod
    def from_row(cls, lead: Lead) -> LeadSummary:
        return cls(
            id=lead.id, kind=lead.kind, status=lead.status, created_at=lead.created_at, channel=lead.channel,
            language=lead.language, organization=organization(lead), person=lead.person, email=lead.email,
            category=lead.category, qualified=lead.qualified, review=bool(lead.review), score=lead.score,
            assignee_id=lead.assignee_id,
        )


class LeadList(BaseModel):
    items: List[LeadSummary]
    total: int
    page: int
    pages: int
    counts: Dict[str, int] = Field(description="per status, under every filter except the status filter")


class NoteOut(BaseModel):
    id: int
    author: str
    text: str
    created_at: datetime

    @classmethod
    def from_row(cls, note: LeadNote) -> NoteOut:
        return cls(id=note.id, author=note.author_email, text=note.text, created_at=note.created_at)


class StaffLeadOut(LeadOut):
    assignee_id: Optional[int]
    decline_reason: Optional[str]
    status_changed_at: Optional[datetime]
    notes: List[NoteOut]
    duplicates: List[LeadSummary]


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target_type: Optional[str]
    target_id: Optional[str]
    details: Dict[str, Any]

    @classmethod
    def from_row(cls, entry: AuditEntry) -> AuditOut:
        return cls(id=entry.id, at=entry.at, actor=entry.actor_email, action=entry.action,
                   target_type=entry.target_type, target_id=entry.target_id, details=entry.details or {})
