"""bookings: the bookings table, messaging tables and the saga tables.

Revision ID: hotel_bookings_0001
Revises:
"""

from __future__ import annotations

from alembic import op

from examples.hotel.bookings.tables import bookings
from examples.hotel.library import create_messaging_tables, drop_messaging_tables
from tidings.sagas import migrations as saga_ops

revision = "hotel_bookings_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(bookings.name, *[column._copy() for column in bookings.columns])
    create_messaging_tables()
    saga_ops.create_saga_tables()


def downgrade() -> None:
    saga_ops.drop_saga_tables()
    drop_messaging_tables()
    op.drop_table(bookings.name)
