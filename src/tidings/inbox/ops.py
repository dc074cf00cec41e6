"""Migration operations for the inbox tables, for a service's Alembic history::

    from tidings.inbox import ops as inbox_ops

    def upgrade() -> None:
        inbox_ops.create_inbox()
        inbox_ops.create_inbox_positions()
        inbox_ops.create_dead_letters()

and the matching ``drop_*`` calls in ``downgrade``. A service whose history
already created the inbox adds a revision with :func:`create_inbox_positions`
alone: until it runs, its consumers apply events without keeping per-aggregate
order (and say so in the log).
"""

from __future__ import annotations

from tidings.inbox.tables import dead_letters, inbox, inbox_positions
from tidings.migrations.ops import create_library_table, drop_library_table


def create_inbox() -> None:
    create_library_table(inbox)


def drop_inbox() -> None:
    drop_library_table(inbox)


def create_dead_letters() -> None:
    create_library_table(dead_letters)


def drop_dead_letters() -> None:
    drop_library_table(dead_letters)


def create_inbox_positions() -> None:
    create_library_table(inbox_positions)


def drop_inbox_positions() -> None:
    drop_library_table(inbox_positions)
