"""notes: the authors replica and the library's inbox and dead letters that feed it.

Revision ID: notes_0002
Revises: notes_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tidings.inbox import ops as inbox_ops
from tidings.storage.types import UTCDateTime

revision = "notes_0002"
down_revision = "notes_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "authors",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("profile_version", sa.Integer, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    inbox_ops.create_inbox()
    inbox_ops.create_dead_letters()


def downgrade() -> None:
    inbox_ops.drop_dead_letters()
    inbox_ops.drop_inbox()
    op.drop_table("authors")
