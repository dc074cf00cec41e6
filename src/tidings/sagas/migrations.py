"""Migration operations for the saga tables, for an orchestrator service's Alembic history::

from tidings.sagas import migrations as saga_ops

def upgrade() -> None:
    saga_ops.create_saga_tables()

def downgrade() -> None:
    saga_ops.drop_saga_tables()
"""

from __future__ import annotations

from tidings.migrations.ops import create_library_table, drop_library_table
from tidings.sagas.tables import saga_instances, saga_steps

SAGA_TABLES = ("saga_instances", "saga_steps")
SAGA_APPEND_ONLY = ("saga_steps",)


def create_saga_tables() -> None:
    """Create ``saga_instances`` and the append-only ``saga_steps`` log."""
    create_library_table(saga_instances)
    create_library_table(saga_steps, is_append_only=True)


def drop_saga_tables() -> None:
    drop_library_table(saga_steps, is_append_only=True)
    drop_library_table(saga_instances)
