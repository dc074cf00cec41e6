"""payments: payments, charge attempts and messaging tables.

Revision ID: hotel_payments_0001
Revises:
"""

from __future__ import annotations

from alembic import op

from examples.hotel.library import create_messaging_tables, drop_messaging_tables
from examples.hotel.payments.tables import charge_attempts, payments

revision = "hotel_payments_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(payments.name, *[c._copy() for c in payments.columns])
    op.create_table(charge_attempts.name, *[c._copy() for c in charge_attempts.columns])
    create_messaging_tables()


def downgrade() -> None:
    drop_messaging_tables()
    op.drop_table(charge_attempts.name)
    op.drop_table(payments.name)
