"""Migration operations for the outbox, for a service's Alembic revision::

from tidings.outbox.schema import create_outbox, drop_outbox

def upgrade() -> None:
    create_outbox()

def downgrade() -> None:
    drop_outbox()
"""

from __future__ import annotations

from tidings.migrations.ops import create_library_table, drop_library_table
from tidings.outbox.table import outbox


def create_outbox() -> None:
    create_library_table(outbox)


def drop_outbox() -> None:
    drop_library_table(outbox)
