"""Optimistic-lock delete, the counterpart of :func:`tidings.storage.locking.update_versioned`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, and_, delete, select

from tidings.errors import ConcurrencyError, NotFound
from tidings.storage.uow import UnitOfWork


async def delete_versioned(
    uow: UnitOfWork, table: Table, key: Mapping[str, Any], expected_version: int
) -> None:
    """Delete the row at ``key`` if it is still at ``expected_version``.

    Raises :class:`ConcurrencyError` when someone changed it first, :class:`NotFound`
    when it is gone.
    """
    match = and_(*(table.c[name] == value for name, value in key.items()))
    result = await uow.execute(delete(table).where(match, table.c.version == expected_version))
    if getattr(result, "rowcount", 0) == 1:
        return
    current = (await uow.execute(select(table.c.version).where(match))).scalar_one_or_none()
    described = ", ".join(f"{name}={value!r}" for name, value in key.items())
    if current is None:
        raise NotFound(f"{table.name}({described}) does not exist")
    raise ConcurrencyError(f"{table.name}({described})", expected_version, int(current))
