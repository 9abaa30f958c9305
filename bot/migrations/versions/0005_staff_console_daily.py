"""staff console for daily work: editor role, first contact and review times, durable funnel, knowledge changes

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-20
"""

from __future__ import annotations

from typing import Any, Dict, Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from bot.db import UTCDateTime

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ROLES_BEFORE = "role IN ('viewer', 'reviewer', 'admin')"
ROLES_AFTER = "role IN ('viewer', 'reviewer', 'editor', 'admin')"


def _roles(check: str) -> None:
    # staff_users has no trigger, so a batch rebuild on SQLite loses nothing (unlike `leads`).
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_constraint("ck_staff_users_role", type_="check")
        batch.create_check_constraint("ck_staff_users_role", check)


def _backfill_contacted_at() -> None:
    """contacted_at for leads contacted before this migration: the status change to "contacted" in the audit log,
    else (still contacted) the time the status last moved."""
    bind = op.get_bind()
    leads = sa.table("leads", sa.column("id", sa.String), sa.column("status", sa.String),
                     sa.column("status_changed_at", UTCDateTime()), sa.column("contacted_at", UTCDateTime()))
    audit = sa.table("staff_audit_log", sa.column("target_type", sa.String), sa.column("target_id", sa.String),
                     sa.column("action", sa.String), sa.column("details", JSON), sa.column("at", UTCDateTime()))
    first: Dict[str, Any] = {}
    rows = bind.execute(sa.select(audit.c.target_id, audit.c.details, audit.c.at)
                        .where(audit.c.target_type == "lead", audit.c.action == "status").order_by(audit.c.at))
    for target_id, details, at in rows:
        if isinstance(details, dict) and details.get("new") == "contacted" and target_id not in first:
            first[target_id] = at
    for lead_id, at in first.items():
        bind.execute(leads.update().where(leads.c.id == lead_id).values(contacted_at=at))
    bind.execute(leads.update().where(leads.c.status == "contacted", leads.c.contacted_at.is_(None))
                 .values(contacted_at=leads.c.status_changed_at))


def upgrade() -> None:
    _roles(ROLES_AFTER)
    # Plain ADD COLUMNs on `leads` (a batch rebuild on SQLite would drop the notes trigger of migration 0002).
    op.add_column("leads", sa.Column("contacted_at", UTCDateTime(), nullable=True))
    op.add_column("leads", sa.Column("reviewed_at", UTCDateTime(), nullable=True))
    _backfill_contacted_at()
    op.create_table(
        "funnel_entries",
        sa.Column("stage", sa.String(32), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("member", sa.String(64), primary_key=True),
        sa.Column("language", sa.String(8), nullable=False, server_default=""),
        sa.Column("category", sa.String(64), nullable=False, server_default=""),
    )
    op.create_index("ix_funnel_entries_day", "funnel_entries", ["day"])
    op.create_table(
        "knowledge_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), sa.ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("actor_email", sa.String(254), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.Column("files", JSON, nullable=False),
        sa.Column("revert_of", sa.Integer(), nullable=True),
        sa.Column("reverted_by", sa.Integer(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("knowledge_changes")
    op.drop_index("ix_funnel_entries_day", table_name="funnel_entries")
    op.drop_table("funnel_entries")
    op.drop_column("leads", "reviewed_at")
    op.drop_column("leads", "contacted_at")
    op.execute("UPDATE staff_users SET role = 'reviewer' WHERE role = 'editor'")  # 0004 knows no editors
    _roles(ROLES_BEFORE)
