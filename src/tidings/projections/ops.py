"""Migration operations for the projection checkpoint table::

from tidings.projections import ops as projection_ops

def upgrade() -> None:
    projection_ops.create_projection_checkpoints()

def downgrade() -> None:
    projection_ops.drop_projection_checkpoints()
"""

from __future__ import annotations

from tidings.migrations.ops import create_library_table, drop_library_table
from tidings.projections.checkpoints import projection_checkpoints


def create_projection_checkpoints() -> None:
    create_library_table(projection_checkpoints)


def drop_projection_checkpoints() -> None:
    drop_library_table(projection_checkpoints)
