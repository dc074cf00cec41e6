"""Keeping a replica of another service's row: newest version wins, whatever the order
events arrive in, and replaying an event changes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, delete, insert, select, update

from tidings.storage.uow import UnitOfWork


async def upsert_if_newer(
    uow: UnitOfWork,
    table: Table,
    key: Mapping[str, Any],
    source_version: int,
    values: Mapping[str, Any],
) -> bool:
    """Write ``values`` at ``key`` unless the replica already holds ``source_version`` or later.

    Returns whether the row changed. Runs in the caller's unit of work, so a
    consumer records the message in its inbox in the same transaction.
    """
    match = [table.c[name] == value for name, value in key.items()]
    held = (await uow.execute(select(table.c.source_version).where(*match))).scalar_one_or_none()
    if held is None:
        await uow.execute(insert(table).values(**key, **values, source_version=source_version))
        return True
    if held >= source_version:
        return False
    await uow.execute(update(table).where(*match).values(**values, source_version=source_version))
    return True


async def delete_if_not_newer(
    uow: UnitOfWork, table: Table, key: Mapping[str, Any], source_version: int
) -> bool:
    """Remove the replica unless it already holds a version after ``source_version``."""
    match = [table.c[name] == value for name, value in key.items()]
    result = await uow.execute(
        delete(table).where(*match, table.c.source_version <= source_version)
    )
    return bool(getattr(result, "rowcount", 0))
