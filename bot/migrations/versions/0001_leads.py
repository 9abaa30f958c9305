"""leads: leads and hand-offs from every channel, with consent, transcript and the service's assessment

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from bot.db import UTCDateTime

revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Spelled out here rather than imported from the models: a migration must keep meaning what it meant.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("person", sa.String(120), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("consent_notice_version", sa.String(32), nullable=False),
        sa.Column("consent_given_at", UTCDateTime(), nullable=False),
        sa.Column("profile", JSON, nullable=True),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("qualified", sa.Boolean(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("reasons", JSON, nullable=True),
        sa.Column("alternatives", JSON, nullable=True),
        sa.Column("rules_version", sa.String(64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("transcript", JSON, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.CheckConstraint("kind IN ('lead', 'handoff')", name="ck_leads_kind"),
        sa.CheckConstraint(
            "kind <> 'lead' OR (profile IS NOT NULL AND rules_version IS NOT NULL)", name="ck_leads_lead_assessed"
        ),
        sa.UniqueConstraint("idempotency_key", name="uq_leads_idempotency_key"),
    )
    op.create_index("ix_leads_conversation_id", "leads", ["conversation_id"])
    op.create_index("ix_leads_created_at", "leads", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_leads_created_at", table_name="leads")
    op.drop_index("ix_leads_conversation_id", table_name="leads")
    op.drop_table("leads")
