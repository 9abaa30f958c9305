"""staff session generation: a counter on each staff user that ends their console sessions when it moves

Each session records the user's `session_version` at login and is refused once it differs; the ORM bumps it
whenever the password, role or active flag changes (bot/staff/models.py), so an old cookie never comes back.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10
"""

from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # A plain ADD COLUMN (no batch rebuild on SQLite), like 0003.
    op.add_column("staff_users", sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("staff_users", "session_version")
