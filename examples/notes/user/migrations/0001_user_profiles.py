"""user: the profiles table and the library's audit log.

Revision ID: user_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tidings.migrations import ops
from tidings.storage.types import UTCDateTime

revision = "user_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "profiles",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("bio", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    ops.create_audit_log()


def downgrade() -> None:
    ops.drop_audit_log()
    op.drop_table("profiles")
