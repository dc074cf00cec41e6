"""user: the library's outbox, through which profile changes are published.

Revision ID: user_0002
Revises: user_0001
"""

from __future__ import annotations

from tidings.outbox.schema import create_outbox, drop_outbox

revision = "user_0002"
down_revision = "user_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox()


def downgrade() -> None:
    drop_outbox()
