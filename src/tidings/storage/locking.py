"""Optimistic locking: mutable rows carry ``version`` and ``updated_at``; a write names
the version it read and fails with :class:`ConcurrencyError` if someone wrote first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Column, Integer, Table, and_, select, update

from tidings.errors import ConcurrencyError, NotFound
from tidings.storage.types import UTCDateTime, utcnow
from tidings.storage.uow import UnitOfWork


def version_columns() -> list[Column[Any]]:
    """The two columns every mutable row carries (new Column objects each call)."""
    return [
        Column("version", Integer, nullable=False, default=1),
        Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
    ]


def _describe(table: Table, key: Mapping[str, Any]) -> str:
    ids = ", ".join(f"{name}={value!r}" for name, value in key.items())
    return f"{table.name}({ids})"


async def update_versioned(
    uow: UnitOfWork,
    table: Table,
    key: Mapping[str, Any],
    expected_version: int,
    values: Mapping[str, Any],
) -> int:
    """Apply ``values`` to the row at ``key`` if it is still at ``expected_version``.

    Returns the new version. Raises :class:`ConcurrencyError` naming the row and
    both versions when the row moved on, :class:`NotFound` when it is gone.
    """
    match = and_(*(table.c[name] == value for name, value in key.items()))
    statement = (
        update(table)
        .where(match, table.c.version == expected_version)
        .values(**values, version=expected_version + 1, updated_at=utcnow())
    )
    result = await uow.execute(statement)
    if getattr(result, "rowcount", 0) == 1:
        return expected_version + 1
    current = (await uow.execute(select(table.c.version).where(match))).scalar_one_or_none()
    if current is None:
        raise NotFound(f"{_describe(table, key)} does not exist")
    raise ConcurrencyError(_describe(table, key), expected_version, int(current))
