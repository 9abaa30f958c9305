"""The service layer on both databases: workflow, notes, duplicates, filters, CSV export, audit, erasure."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.leads import events as lead_events
from bot.leads import service as lead_service
from bot.leads.models import Lead
from bot.staff import service
from bot.staff.erasure import SCRUBBED, conversation_ref, erase_staff_records
from bot.staff.models import AuditEntry, LeadNote
from tests.bot.staff.conftest import profile


def _lead(session: Session, lead_id: str) -> Lead:
    lead = session.get(Lead, lead_id)
    assert lead is not None
    return lead


def test_the_workflow_goes_new_in_review_contacted_accepted(db: sessionmaker[Session], make_user, make_lead) -> None:
    user, lead = make_user("reviewer"), make_lead()
    with db() as session:
        row = _lead(session, lead.id)
        for status in ("in_review", "contacted", "accepted"):
            service.change_status(session, row, status, user)
            assert row.status == status and row.status_changed_at is not None
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "status").order_by(AuditEntry.id)).all()
        assert [(e.details["old"], e.details["new"], e.actor_email) for e in entries] == [
            ("new", "in_review", user.email), ("in_review", "contacted", user.email), ("contacted", "accepted", user.email)
        ]


@pytest.mark.parametrize("path, refused, message", [
    ((), "accepted", "cannot go from new to accepted; from new it can go to: in review, declined"),
    ((), "contacted", "cannot go from new to contacted"),
    (("in_review",), "new", "cannot go from in review to new"),
    (("declined",), "in_review", r"from declined it can go to: none \(it is final\)"),
    (("in_review", "contacted", "accepted"), "declined", "from accepted it can go to: none"),
    ((), "closed", "unknown status 'closed'"),
])
def test_invalid_transitions_are_refused_with_a_clear_message(db, make_user, make_lead, path, refused, message) -> None:
    user, lead = make_user("reviewer"), make_lead()
    with db() as session:
        row = _lead(session, lead.id)
        for status in path:
            service.change_status(session, row, status, user, reason="spam" if status == "declined" else None)
        before = row.status
        with pytest.raises(service.InvalidTransition, match=message):
            service.change_status(session, row, refused, user, reason="x")
    with db() as session:
        assert _lead(session, lead.id).status == before


def test_declining_needs_a_reason_which_is_kept(db, make_user, make_lead) -> None:
    user, lead = make_user("reviewer"), make_lead()
    with db() as session:
        row = _lead(session, lead.id)
        with pytest.raises(service.InvalidTransition, match="give a reason to decline"):
            service.change_status(session, row, "declined", user, reason="   ")
        service.change_status(session, row, "declined", user, reason="不符合条件: not in Guangzhou")
    with db() as session:
        row = _lead(session, lead.id)
        assert row.status == "declined" and row.decline_reason == "不符合条件: not in Guangzhou"


def test_a_stale_status_change_loses(db, make_user, make_lead) -> None:
    user, lead = make_user("reviewer"), make_lead()
    with db() as first, db() as second:
        a, b = _lead(first, lead.id), _lead(second, lead.id)  # both read "new"
        service.change_status(first, a, "in_review", user)
        with pytest.raises(service.InvalidTransition, match="changed in the meantime"):
            service.change_status(second, b, "declined", user, reason="dup")
    with db() as session:
        assert _lead(session, lead.id).status == "in_review"


def test_notes_are_appended_with_author_and_time_and_audited(db, make_user, make_lead) -> None:
    user, other, lead = make_user("reviewer"), make_user("admin"), make_lead()
    with db() as session:
        row = _lead(session, lead.id)
        service.add_note(session, row, user, "Called, will send documents / 已致电")
        service.add_note(session, row, other, "Documents received")
        with pytest.raises(service.StaffError, match="cannot be empty"):
            service.add_note(session, row, user, "  ")
        with pytest.raises(service.StaffError, match="at most"):
            service.add_note(session, row, user, "x" * (service.MAX_NOTE + 1))
        notes = service.notes(session, lead.id)
        assert [(n.author_email, n.text) for n in notes] == [
            (user.email, "Called, will send documents / 已致电"), (other.email, "Documents received")]
        assert all(n.created_at.tzinfo is not None for n in notes)
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "note")) == 2
    assert not hasattr(service, "delete_note") and not hasattr(service, "update_note")  # append-only by design


def test_assignment_takes_only_active_reviewers(db, make_user, make_lead) -> None:
    viewer, reviewer, lead = make_user("viewer"), make_user("reviewer"), make_lead()
    with db() as session:
        row = _lead(session, lead.id)
        with pytest.raises(service.StaffError, match="reviewer, editor or admin"):
            service.assign(session, row, viewer.id, reviewer)
        service.assign(session, row, reviewer.id, reviewer)
        assert _lead(session, lead.id).assignee_id == reviewer.id
        service.assign(session, row, None, reviewer)
        assert _lead(session, lead.id).assignee_id is None


def test_duplicates_by_email_or_organization_name(db, make_lead) -> None:
    lead = make_lead(conversation_id="a")
    same_email = make_lead(kind="handoff", conversation_id="b",
                           contact={"person": "Li", "email": "LI.HUA@example.com"})
    same_org = make_lead(conversation_id="c", profile=profile(name="acme motors "),
                         contact={"person": "Wang", "email": "wang@acme.example"})
    make_lead(conversation_id="d", profile=profile(name="Other Co"), contact={"person": "Zhao", "email": "zhao@other.example"})
    with db() as session:
        found = {d.id for d in service.duplicates(session, _lead(session, lead.id))}
    assert found == {same_email.id, same_org.id}


def test_filters_search_sort_pagination_and_counts(db, make_user, make_lead) -> None:
    user = make_user("reviewer")
    make_lead(conversation_id="1", language="zh", channel="telegram", profile=profile(name="广州云科技有限公司"),
              contact={"person": "张伟", "email": "zhang@yun.example"})
    qualified = make_lead(conversation_id="2", channel="web", contact={"person": "Li Hua", "email": "li@acme.example"})
    make_lead(conversation_id="3", profile={"name": "Tiny Studio", "org_type": "individual"},
              contact={"person": "Amy", "email": "amy@tiny.example"})
    make_lead(kind="handoff", conversation_id="4")
    with db() as session:
        service.change_status(session, _lead(session, qualified.id), "in_review", user)

        def ids(**kw):
            return [lead.conversation_id for lead in service.list_leads(session, service.LeadFilter(**kw)).items]

        assert sorted(ids()) == ["1", "2", "3"]  # hand-offs have their own queue
        assert ids(kind="handoff") == ["4"]
        assert ids(language="zh") == ["1"] and ids(channel="web", sort="oldest") == ["2", "3"]
        assert ids(q="云科技") == ["1"] and ids(q="ZHANG@") == ["1"] and ids(q="li hua") == ["2"]
        assert ids(q="100%") == []  # LIKE wildcards are escaped
        assert ids(status="in_review") == ["2"]
        assert set(ids(qualified=False)) == {"3"} and set(ids(qualified=True)) == {"1", "2"}
        assert ids(category="strategic_partner", sort="oldest") == ["1", "2"]
        today = datetime.now(service.local_zone()).date()
        assert len(ids(date_from=today, date_to=today)) == 3 and ids(date_to=today - timedelta(days=1)) == []
        page = service.list_leads(session, service.LeadFilter(per_page=2, page=2, sort="oldest"))
        assert [lead.conversation_id for lead in page.items] == ["3"] and page.pages == 2 and page.total == 3
        counts = service.list_leads(session, service.LeadFilter(status="new")).counts
        assert counts == {"new": 2, "in_review": 1, "contacted": 0, "accepted": 0, "declined": 0}
    with pytest.raises(service.StaffError, match="sort must be"):
        service.LeadFilter(sort="drop table")


def test_csv_export_has_a_bom_chinese_text_no_formulas_and_is_audited(db, make_user, make_lead) -> None:
    user = make_user("reviewer")
    make_lead(conversation_id="1", profile=profile(name="广州云科技"), contact={
        "person": "=HYPERLINK(\"x\")", "email": "zhang@yun.example", "phone": "+86 138 0013 8000"})
    make_lead(conversation_id="2", language="zh", contact={"person": "Li", "email": "li@acme.example"})
    with db() as session:
        text = service.export_csv(session, service.LeadFilter(q="广州"), user)
        assert text.startswith("\ufeff")
        rows = list(csv.DictReader(io.StringIO(text[1:])))
        assert len(rows) == 1 and rows[0]["organization"] == "广州云科技"
        assert rows[0]["person"] == "'=HYPERLINK(\"x\")"  # a formula would run in Excel
        assert rows[0]["phone"] == "'+8613800138000" and rows[0]["qualified"] == "yes"
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "export")).one()
        filters = {"kind": "lead", "q": "[text search]", "sort": "newest"}  # the search words stay out of the log
        assert entry.actor_email == user.email and entry.details == {"filters": filters, "rows": 1}


def test_erasing_a_conversation_takes_its_notes_along(db, make_user, make_lead) -> None:
    lead_events.on_conversation_erased(erase_staff_records)  # as bot.staff.app.install registers it
    user, lead = make_user("reviewer"), make_lead(conversation_id="forget-me")
    with db() as session:
        service.add_note(session, _lead(session, lead.id), user, "personal remark")
        assert lead_service.delete_conversation(session, "forget-me") == 1
        assert session.scalar(select(func.count()).select_from(LeadNote)) == 0


def test_the_first_move_to_contacted_is_kept_for_the_time_to_first_contact(db, make_user, make_lead) -> None:
    user, lead = make_user("reviewer"), make_lead()
    with db() as session:
        row = _lead(session, lead.id)
        service.change_status(session, row, "in_review", user)
        assert row.contacted_at is None
        service.change_status(session, row, "contacted", user)
        first = row.contacted_at
        assert first is not None and first == row.status_changed_at
        service.change_status(session, row, "accepted", user)
        assert row.contacted_at == first and row.status_changed_at > first


def test_erasure_scrubs_the_audit_and_is_audited_itself(db, make_user, make_lead) -> None:
    lead_events.on_conversation_erased(erase_staff_records)
    user = make_user("reviewer")
    mine, theirs = make_lead(conversation_id="web-erase-me"), make_lead(conversation_id="web-keep-me")
    reason = "Li Hua (li.hua@example.org) asked us to call back later"
    with db() as session:
        service.change_status(session, _lead(session, mine.id), "declined", user, reason=reason)
        service.change_status(session, _lead(session, theirs.id), "declined", user, reason="not a fit")
        assert lead_service.delete_conversation(session, "web-erase-me") == 1
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        text = repr([(e.target_id, e.details) for e in entries])
        assert "Li Hua" not in text and "li.hua@example.org" not in text and "web-erase-me" not in text
        about_mine = [e for e in entries if e.target_id == mine.id]
        assert about_mine and all(e.details == SCRUBBED for e in about_mine)  # that it happened stays
        assert any(e.details.get("reason") == "not a fit" for e in entries if e.target_id == theirs.id)
        erasure = [e for e in entries if e.action == "erase"]
        assert len(erasure) == 1 and erasure[0].target_type == "conversation" and erasure[0].details["records"] == 1
        assert erasure[0].target_id == conversation_ref("web-erase-me")
