"""What the runtime role may do with a table, recorded by the operation that creates it.

A library migration operation (:func:`tidings.migrations.ops.create_library_table`)
writes the table's runtime access into the table's comment, in the database. The
grant step after migrating reads the comments back, so the runtime role is granted
exactly what the operations created, whichever service ran them and whatever list a
service keeps of its library tables: nothing is kept by hand in two places.

::

    events          tidings: runtime append_only     SELECT, INSERT
    event_writers   tidings: runtime lock_rows       SELECT, UPDATE
    outbox          tidings: runtime read_write      SELECT, INSERT, UPDATE, DELETE
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Table


class RuntimeAccess(StrEnum):
    """The privileges a service's runtime role gets on one table."""

    READ_WRITE = "read_write"
    """SELECT, INSERT, UPDATE, DELETE: ordinary tables."""
    APPEND_ONLY = "append_only"
    """SELECT and INSERT: rows are never changed (triggers refuse it for everyone)."""
    READ_ONLY = "read_only"
    """SELECT: what only migrations write (the version table)."""
    LOCK_ROWS = "lock_rows"
    """SELECT and UPDATE: fixed rows writers lock and mark (the event store's slots)."""


_MARKER = "tidings: runtime "
_INFO_KEY = "tidings.runtime_access"


def declare(table: Table, access: RuntimeAccess) -> Table:
    """Declare ``table``'s runtime access where it is defined; the operation records it."""
    table.info[_INFO_KEY] = access
    return table


def declared(table: Table, *, is_append_only: bool = False) -> RuntimeAccess:
    """The access declared on ``table``, else append-only or read-write as asked."""
    access = table.info.get(_INFO_KEY)
    if isinstance(access, RuntimeAccess):
        return access
    return RuntimeAccess.APPEND_ONLY if is_append_only else RuntimeAccess.READ_WRITE


def comment(access: RuntimeAccess) -> str:
    """The table comment that records ``access``."""
    return f"{_MARKER}{access.value}"


def from_comment(text: str | None) -> RuntimeAccess | None:
    """The access a table comment records, or None for a table no operation marked."""
    if not text or not text.startswith(_MARKER):
        return None
    try:
        return RuntimeAccess(text[len(_MARKER) :].strip())
    except ValueError:
        return None
