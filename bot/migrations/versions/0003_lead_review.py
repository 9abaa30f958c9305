"""leads marked for review: profiles close to a category, or ones the rules cannot place, go to staff

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # A plain ADD COLUMN, not a batch rebuild: on SQLite a rebuild of `leads` would drop the trigger that
    # erases a conversation's notes with its leads (migration 0002).
    op.add_column("leads", sa.Column("review", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("ix_leads_review", "leads", ["review"])


def downgrade() -> None:
    op.drop_index("ix_leads_review", table_name="leads")
    op.drop_column("leads", "review")  # SQLite 3.35+ drops a column in place (the trigger stays)
