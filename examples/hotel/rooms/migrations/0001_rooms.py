"""rooms: room types (seeded), reservations and messaging tables.

Revision ID: hotel_rooms_0001
Revises:
"""

from __future__ import annotations

from alembic import op

from examples.hotel.library import create_messaging_tables, drop_messaging_tables
from examples.hotel.rooms.tables import ROOMS, reservations, room_types

revision = "hotel_rooms_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    created = op.create_table(room_types.name, *[c._copy() for c in room_types.columns])
    op.create_table(reservations.name, *[c._copy() for c in reservations.columns])
    op.bulk_insert(created, [{"room_type": kind, "total": total} for kind, total in ROOMS.items()])
    create_messaging_tables()


def downgrade() -> None:
    drop_messaging_tables()
    op.drop_table(reservations.name)
    op.drop_table(room_types.name)
