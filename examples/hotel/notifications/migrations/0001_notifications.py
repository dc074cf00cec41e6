"""notifications: sent notifications and messaging tables.

Revision ID: hotel_notifications_0001
Revises:
"""

from __future__ import annotations

from alembic import op

from examples.hotel.library import create_messaging_tables, drop_messaging_tables
from examples.hotel.notifications.tables import sent_notifications

revision = "hotel_notifications_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(sent_notifications.name, *[c._copy() for c in sent_notifications.columns])
    create_messaging_tables()


def downgrade() -> None:
    drop_messaging_tables()
    op.drop_table(sent_notifications.name)
