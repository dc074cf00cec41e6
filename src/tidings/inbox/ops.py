"""Migration operations for the inbox tables, for a service's Alembic history::

    from tidings.inbox import ops as inbox_ops

    def upgrade() -> None:
        inbox_ops.create_inbox()
        inbox_ops.create_dead_letters()

and the matching ``drop_*`` calls in ``downgrade``.
"""

from __future__ import annotations

from tidings.inbox.tables import dead_letters, inbox
from tidings.migrations.ops import create_library_table, drop_library_table


def create_inbox() -> None:
    create_library_table(inbox)


def drop_inbox() -> None:
    drop_library_table(inbox)


def create_dead_letters() -> None:
    create_library_table(dead_letters)


def drop_dead_letters() -> None:
    drop_library_table(dead_letters)
