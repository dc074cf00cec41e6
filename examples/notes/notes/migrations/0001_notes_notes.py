"""notes: the notes table and the library's audit log.

Revision ID: notes_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tidings.migrations import ops
from tidings.storage.types import UTCDateTime

revision = "notes_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_notes_user_id", "notes", ["user_id"])
    ops.create_audit_log()


def downgrade() -> None:
    ops.drop_audit_log()
    op.drop_index("ix_notes_user_id", table_name="notes")
    op.drop_table("notes")
