"""staff console: staff accounts, API tokens, lead notes, audit log; lead status workflow, assignee, decline reason

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-15
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from bot.db import UTCDateTime

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
STATUSES = "('new', 'in_review', 'contacted', 'accepted', 'declined')"


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("role IN ('viewer', 'reviewer', 'admin')", name="ck_staff_users_role"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "staff_api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_staff_api_tokens_user_id", "staff_api_tokens", ["user_id"])
    op.create_table(
        "lead_notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("lead_id", sa.String(36), sa.ForeignKey("leads.id", ondelete="CASCADE"), nullable=False),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("author_email", sa.String(254), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_lead_notes_lead_id", "lead_notes", ["lead_id"])
    op.create_table(
        "staff_audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), sa.ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("actor_email", sa.String(254), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target_type", sa.String(16), nullable=True),
        sa.Column("target_id", sa.String(64), nullable=True),
        sa.Column("details", JSON, nullable=False),
    )
    op.create_index("ix_staff_audit_log_at", "staff_audit_log", ["at"])

    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("decline_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("status_changed_at", UTCDateTime(), nullable=True))
        batch.create_foreign_key("fk_leads_assignee_id_staff_users", "staff_users", ["assignee_id"], ["id"], ondelete="SET NULL")
        batch.create_check_constraint("ck_leads_status", f"status IN {STATUSES}")
        batch.create_index("ix_leads_status", ["status"])

    if op.get_bind().dialect.name == "sqlite":
        # SQLite does not enforce foreign keys unless each connection asks, so ON DELETE CASCADE alone would
        # leave the notes of an erased conversation behind. A trigger does it. (A later batch migration that
        # rebuilds `leads` drops this trigger and must create it again.)
        op.execute(
            "CREATE TRIGGER trg_leads_delete_notes AFTER DELETE ON leads FOR EACH ROW "
            "BEGIN DELETE FROM lead_notes WHERE lead_id = OLD.id; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS trg_leads_delete_notes")
    op.execute("UPDATE leads SET status = 'new'")  # 0001 knows no other status
    with op.batch_alter_table("leads") as batch:
        batch.drop_index("ix_leads_status")
        batch.drop_constraint("ck_leads_status", type_="check")
        batch.drop_constraint("fk_leads_assignee_id_staff_users", type_="foreignkey")
        batch.drop_column("status_changed_at")
        batch.drop_column("decline_reason")
        batch.drop_column("assignee_id")
    op.drop_index("ix_staff_audit_log_at", table_name="staff_audit_log")
    op.drop_table("staff_audit_log")
    op.drop_index("ix_lead_notes_lead_id", table_name="lead_notes")
    op.drop_table("lead_notes")
    op.drop_index("ix_staff_api_tokens_user_id", table_name="staff_api_tokens")
    op.drop_table("staff_api_tokens")
    op.drop_table("staff_users")
