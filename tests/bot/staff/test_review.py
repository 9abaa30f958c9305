"""The review queue: leads the assessment marked for review, the profile beside its reasons, and a reviewer's
decision that is audited (without personal data) and moves the lead on."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.leads.models import Lead
from bot.staff import review, service
from bot.staff.models import AuditEntry, LeadNote
from tests.bot.staff.conftest import REVIEW_PROFILE, csrf_of, login, profile, visible_text

REASON = "Spoke with Ms Chen (chen@ningbo.example): no plans for Guangzhou before 2027"


def _review_lead(make_lead, **changes):
    changes.setdefault("profile", dict(REVIEW_PROFILE))
    lead = make_lead(**changes)
    assert lead.review and not lead.qualified and lead.category == "super_partner"  # as the rules judge it
    return lead


def _get(db: sessionmaker[Session], lead_id: str) -> Lead:
    with db() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        return lead


def test_the_queue_holds_open_leads_marked_for_review_oldest_first(db, make_user, make_lead) -> None:
    first = _review_lead(make_lead, conversation_id="r1")
    second = _review_lead(make_lead, conversation_id="r2")
    make_lead(conversation_id="qualified")  # a clear strategic partner: not for review
    declined = _review_lead(make_lead, conversation_id="r3")
    with db() as session:
        service.change_status(session, session.get(Lead, declined.id), "declined", make_user("reviewer"), reason="spam")
        assert [lead.id for lead in review.queue(session)] == [first.id, second.id]
        assert review.queue_size(session) == 2


def test_a_qualifying_decision_sets_the_category_clears_the_mark_and_moves_the_lead_on(db, make_user, make_lead) -> None:
    user, lead = make_user("reviewer"), _review_lead(make_lead)
    with db() as session:
        review.decide(session, session.get(Lead, lead.id), "city_dreamer", True, user, REASON)
        assert review.queue(session) == []
    row = _get(db, lead.id)
    assert (row.category, row.qualified, row.review, row.status) == ("city_dreamer", True, False, "in_review")
    assert row.reviewed_at is not None and row.status_changed_at == row.reviewed_at
    with db() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "review")).one()
        note = session.scalars(select(LeadNote).where(LeadNote.lead_id == lead.id)).one()
    assert entry.actor_email == user.email and entry.target_id == lead.id
    assert {k: v for k, v in entry.details.items() if k != "note_id"} == {
        "category_before": "super_partner", "category_after": "city_dreamer", "qualified_before": False,
        "qualified_after": True, "status_before": "new", "status_after": "in_review", "reason_given": True}
    assert "Chen" not in json.dumps(entry.details) and "ningbo" not in json.dumps(entry.details)  # no personal data
    assert note.text == REASON and entry.details["note_id"] == note.id  # the reason stays with the lead (erasable)


def test_a_lead_that_does_not_qualify_is_declined_with_the_reason(db, make_user, make_lead) -> None:
    user, lead = make_user("reviewer"), _review_lead(make_lead)
    with db() as session:
        with pytest.raises(service.StaffError, match="give a reason to decline"):
            review.decide(session, session.get(Lead, lead.id), None, False, user, "  ")
    assert _get(db, lead.id).review  # refused: nothing changed
    with db() as session:
        review.decide(session, session.get(Lead, lead.id), None, False, user, REASON)
    row = _get(db, lead.id)
    assert (row.category, row.qualified, row.review, row.status, row.decline_reason) == (
        None, False, False, "declined", REASON)
    with db() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "review")).one()
    assert entry.details["status_after"] == "declined" and REASON not in json.dumps(entry.details)


@pytest.mark.parametrize("category, qualifies, message", [
    ("gold_partner", True, "choose one of the four categories"),
    (None, True, "a qualifying lead needs a category"),
    ("city_dreamer", False, "give a reason to decline"),
])
def test_bad_decisions_are_refused_and_change_nothing(db, make_user, make_lead, category, qualifies, message) -> None:
    user, lead = make_user("reviewer"), _review_lead(make_lead)
    with db() as session:
        with pytest.raises(service.StaffError, match=message):
            review.decide(session, session.get(Lead, lead.id), category, qualifies, user)
    row = _get(db, lead.id)
    assert (row.review, row.status, row.category) == (True, "new", "super_partner")
    with db() as session:
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "review")).all() == []


def test_only_leads_waiting_for_review_can_be_decided_and_only_once(db, make_user, make_lead) -> None:
    user = make_user("reviewer")
    clear = make_lead(conversation_id="clear")
    lead = _review_lead(make_lead)
    with db() as session:
        with pytest.raises(service.StaffError, match="not marked for review"):
            review.decide(session, session.get(Lead, clear.id), "strategic_partner", True, user)
    # Two reviewers open the same lead; the first decision wins, the second is refused.
    with db() as first, db() as second:
        mine, theirs = first.get(Lead, lead.id), second.get(Lead, lead.id)
        review.decide(first, mine, "super_partner", True, user)
        with pytest.raises(service.StaffError, match="changed in the meantime"):
            review.decide(second, theirs, None, False, user, "not a fit")
    assert _get(db, lead.id).status == "in_review"


def test_the_review_pages_show_the_profile_beside_the_reasons_and_take_the_decision(client: TestClient, make_user,
                                                                                     make_lead, db) -> None:
    first = _review_lead(make_lead, conversation_id="p1")
    second = _review_lead(make_lead, conversation_id="p2", profile=dict(REVIEW_PROFILE, name="Shenzhen Drone Lab"))
    csrf = login(client, make_user("reviewer").email)
    queue = client.get("/staff/review")
    assert queue.status_code == 200 and first.id in queue.text and second.id in queue.text
    assert "Super partner" in visible_text(queue.text)  # the closest category, in words
    page = client.get(f"/staff/review/{first.id}")
    text = visible_text(page.text)
    # The profile in words (eligibility.yml's labels), and the assessment's reasons, on one page.
    assert "Enterprise" in text and 'National specialized-and-sophisticated "little giant"' in text
    assert "technical textiles" in text and first.reasons[0]["en"] in text
    assert 'class="side-by-side"' in page.text
    bad = client.post(f"/staff/review/{first.id}", data={"csrf_token": csrf, "category": "super_partner",
                                                          "qualifies": "no", "reason": ""})
    assert bad.status_code == 409 and "give a reason to decline" in bad.text
    assert 'value="no" checked' in bad.text  # what was chosen stays chosen
    done = client.post(f"/staff/review/{first.id}", data={"csrf_token": csrf, "category": "super_partner",
                                                           "qualifies": "yes", "reason": ""}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/staff/review/{second.id}?done={first.id}"
    following = client.get(done.headers["location"])
    assert "Decision recorded." in following.text and "Shenzhen Drone Lab" in following.text
    assert (_get(db, first.id).status, _get(db, first.id).qualified) == ("in_review", True)
    last = client.post(f"/staff/review/{second.id}", data={"csrf_token": csrf_of(following.text), "category": "",
                                                           "qualifies": "no", "reason": "no link with Guangzhou"},
                       follow_redirects=False)
    assert last.headers["location"] == f"/staff/review?done={second.id}"
    assert "Nothing waits for review." in client.get("/staff/review").text
    closed = client.get(f"/staff/review/{second.id}")
    assert "This lead is not waiting for review." in closed.text and 'name="qualifies"' not in closed.text


def test_a_viewer_reads_the_queue_but_cannot_decide(client: TestClient, make_user, make_lead) -> None:
    lead = _review_lead(make_lead)
    csrf = login(client, make_user("viewer").email)
    page = client.get(f"/staff/review/{lead.id}")
    assert page.status_code == 200 and 'name="qualifies"' not in page.text and "Reviewers decide here" in page.text
    refused = client.post(f"/staff/review/{lead.id}", data={"csrf_token": csrf, "category": "super_partner",
                                                            "qualifies": "yes"})
    assert refused.status_code == 403


def test_the_lead_page_points_to_the_review(client: TestClient, make_user, make_lead) -> None:
    lead, clear = _review_lead(make_lead), make_lead(conversation_id="clear", profile=profile())
    login(client, make_user("reviewer").email)
    assert f'href="/staff/review/{lead.id}"' in client.get(f"/staff/leads/{lead.id}").text
    assert "review-notice" not in client.get(f"/staff/leads/{clear.id}").text


def test_the_api_lists_the_queue_and_takes_a_decision(client: TestClient, make_user, make_lead, db) -> None:
    lead = _review_lead(make_lead)
    with db() as session:
        _, token = service.create_token(session, make_user("reviewer"), "crm")
    headers = {"Authorization": f"Bearer {token}"}
    listed = client.get("/api/staff/review", headers=headers).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == lead.id and listed["items"][0]["review"] is True
    refused = client.post(f"/api/staff/leads/{lead.id}/review", json={"category": None, "qualifies": False},
                          headers=headers)
    assert refused.status_code == 409 and refused.json()["detail"] == "give a reason to decline"
    assert client.post(f"/api/staff/leads/{lead.id}/review", json={"qualifies": True, "nope": 1},
                       headers=headers).status_code == 422
    decided = client.post(f"/api/staff/leads/{lead.id}/review", json={"category": "city_dreamer", "qualifies": True},
                          headers=headers)
    body = decided.json()
    assert decided.status_code == 200 and body["status"] == "in_review"
    assert body["assessment"]["category"] == "city_dreamer" and body["assessment"]["review"] is False
    assert client.get("/api/staff/review", headers=headers).json()["total"] == 0
