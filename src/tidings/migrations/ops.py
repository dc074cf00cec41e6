"""Ready migration operations for the library's own tables.

A service's Alembic revision includes them::

    from tidings.migrations import ops

    def upgrade() -> None:
        ops.create_audit_log()

    def downgrade() -> None:
        ops.drop_audit_log()

Each operation creates the table from the library's own Table definition, so the
SQL the library runs and the schema it migrates can never disagree.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Index, Table

from tidings.migrations.access import RuntimeAccess, comment, declared
from tidings.storage import append_only
from tidings.storage.capabilities import Backend
from tidings.storage.urls import backend_of


def current_backend() -> Backend:
    return backend_of(op.get_bind().engine.url)


def create_library_table(
    table: Table, *, is_append_only: bool = False, access: RuntimeAccess | None = None
) -> None:
    """Create ``table`` (with its indexes) and, if asked, its append-only triggers.

    The table's comment records what the runtime role may do with it (``access``, else
    what the table declares, else append-only or read-write), so the grants that
    follow the migration are derived from what was created (see
    :mod:`tidings.migrations.access`).
    """
    chosen = access or declared(table, is_append_only=is_append_only)
    is_append_only = is_append_only or chosen is RuntimeAccess.APPEND_ONLY
    op.create_table(
        table.name, *[column._copy() for column in table.columns], comment=comment(chosen)
    )
    dialect = op.get_bind().dialect.name
    for index in table.indexes:
        if not _applies_to(index, dialect):
            continue
        op.create_index(
            index.name or f"ix_{table.name}",
            table.name,
            [column.name for column in index.columns],
            unique=bool(index.unique),
            **index.dialect_kwargs,
        )
    if is_append_only:
        for statement in append_only.create_statements(current_backend(), table.name):
            op.execute(statement)


def _applies_to(index: Index, dialect: str) -> bool:
    """Whether ``index`` is built on ``dialect`` (an index may be for some backends only,
    declared with ``Index.ddl_if(dialect=...)``)."""
    condition = getattr(index, "_ddl_if", None)
    if condition is None or condition.dialect is None:
        return True
    wanted = condition.dialect
    return dialect == wanted if isinstance(wanted, str) else dialect in wanted


def drop_library_table(table: Table, *, is_append_only: bool = False) -> None:
    if is_append_only or declared(table) is RuntimeAccess.APPEND_ONLY:
        for statement in append_only.drop_statements(current_backend(), table.name):
            op.execute(statement)
    op.drop_table(table.name)


def create_audit_log() -> None:
    from tidings.audit import audit_log

    create_library_table(audit_log, is_append_only=True)


def drop_audit_log() -> None:
    from tidings.audit import audit_log

    drop_library_table(audit_log, is_append_only=True)
